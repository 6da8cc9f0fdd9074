package destination

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ClassifyStatus is the shared table from an HTTP status to an outcome, for answers the
// provider documents nothing more about. 3xx is not a success here: an API that redirects is
// not where the integration thinks it is (webhooks, where a 3xx counts as delivered, decide that
// themselves).
func ClassifyStatus(code int) switchyard.Outcome {
	switch {
	case code >= 200 && code < 300:
		return switchyard.OutcomeDelivered
	case code >= 300 && code < 400:
		return switchyard.OutcomeInvalidRequest
	case code == http.StatusBadRequest:
		return switchyard.OutcomeRejectedClientError
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return switchyard.OutcomeAuthFailed
	case code == http.StatusNotFound:
		return switchyard.OutcomeDestinationNotFound
	case code == http.StatusRequestTimeout:
		return switchyard.OutcomeDestinationTimeout
	case code == http.StatusConflict:
		return switchyard.OutcomeDestinationConflict
	case code == http.StatusGone:
		return switchyard.OutcomeDestinationGone
	case code == http.StatusRequestEntityTooLarge:
		return switchyard.OutcomePayloadTooLarge
	case code == http.StatusUnprocessableEntity:
		return switchyard.OutcomeValidationFailed
	case code == http.StatusTooManyRequests:
		return switchyard.OutcomeRateLimited
	case code >= 400 && code < 500:
		return switchyard.OutcomeRejectedClientError
	}
	return switchyard.OutcomeRejectedServerError // 5xx, and anything outside the defined ranges
}

// ProviderRules are what a provider documents beyond plain HTTP, for Classify.
type ProviderRules struct {
	// Name is the provider's name in messages ("HubSpot").
	Name string
	// ErrorMessage extracts the provider's own explanation (and error code) from an error body.
	// It must never return a secret. nil: the status alone is reported.
	ErrorMessage func(status int, body []byte) string
	// Outcome overrides the status table for answers the provider documents: a 403 whose body
	// says the rate limit was hit, a 400 that is a validation failure, a 409 that means the
	// thing is already done (OutcomeDelivered). ok false keeps the table's outcome.
	Outcome func(status int, header http.Header, body []byte) (o switchyard.Outcome, ok bool)
	// RetryAfter reads the provider's own rate-limit headers (Retry-After, which is always read
	// first, aside). ok false: they say nothing.
	RetryAfter func(header http.Header, now time.Time) (d time.Duration, ok bool)
}

// Classify maps a provider's answer — status, headers and (the start of) its body — to the
// attempt's result: outcome, message (with the provider's own explanation) and, when rate
// limited or unavailable, how long to wait. The response excerpt is the caller's to add.
func Classify(status int, header http.Header, body []byte, rules *ProviderRules, now time.Time) Result {
	if rules == nil {
		rules = &ProviderRules{}
	}
	outcome := ClassifyStatus(status)
	if rules.Outcome != nil {
		if o, ok := rules.Outcome(status, header, body); ok {
			outcome = o
		}
	}
	res := Result{Outcome: outcome, HTTPStatus: status, Message: StatusMessage(status)}
	if rules.Name != "" {
		res.Message = rules.Name + " answered " + res.Message
	}
	if outcome != switchyard.OutcomeDelivered && rules.ErrorMessage != nil {
		if msg := strings.TrimSpace(CleanText(rules.ErrorMessage(status, body))); msg != "" {
			res.Message += ": " + ScrubAddresses(truncate(msg, 300))
		}
	}
	if outcome == switchyard.OutcomeRateLimited || status == http.StatusServiceUnavailable {
		if d, ok := ParseRetryAfter(header.Get("Retry-After"), now); ok {
			res.RetryAfter = d
		} else if rules.RetryAfter != nil {
			if d, ok := rules.RetryAfter(header, now); ok {
				res.RetryAfter = d
			}
		}
	}
	return res
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// StaticTokens is the Tokens of a credential the customer pasted (a private-app token, an
// access token): it never expires and cannot be refreshed.
type StaticTokens struct{ AccessToken string }

// ErrCannotRefresh: the credential cannot be refreshed; a 401 means it is wrong or revoked.
var ErrCannotRefresh = errors.New("the credential cannot be refreshed")

// Token returns the pasted token.
func (s StaticTokens) Token(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: s.AccessToken, TokenType: "Bearer"}, nil
}

// Refresh cannot: the customer must paste a new token.
func (s StaticTokens) Refresh(context.Context, *oauth2.Token) (*oauth2.Token, error) {
	return nil, ErrCannotRefresh
}

// NoCredentials is the Tokens of a connection with no credential at all (never authorized
// through the OAuth flow, nothing pasted): every attempt comes to TokenResult(ErrNoCredentials).
type NoCredentials struct{}

// Token has none to give.
func (NoCredentials) Token(context.Context) (*oauth2.Token, error) { return nil, ErrNoCredentials }

// Refresh has none to give.
func (NoCredentials) Refresh(context.Context, *oauth2.Token) (*oauth2.Token, error) {
	return nil, ErrNoCredentials
}

// AttemptError ends an attempt with a result when there is no answer to classify (no token to
// be had, credentials refused after a refresh).
type AttemptError struct{ Result Result }

func (e *AttemptError) Error() string { return e.Result.Message }

// ResultOf is the result an error from DoAuthorized comes to: an *AttemptError's own, or the
// classification of a transport failure on the way to dest.
func ResultOf(ctx context.Context, err error, timeout time.Duration, dest *url.URL) Result {
	var ae *AttemptError
	if errors.As(err, &ae) {
		return ae.Result
	}
	return ClassifyTransportError(ctx, err, timeout, dest)
}

// DoAuthorized sends the request newReq builds with the connection's current access token as
// "Authorization: Bearer …". On a 401 it refreshes the token once and sends again: an expired
// token is the refresh's business, not the customer's attempt. It returns the provider's
// answer, or an error: a transport failure as the client reported it, or an *AttemptError when
// the attempt ends without an answer worth classifying:
//   - no token to be had: TokenResult (a revoked grant deactivates the connection; a failing
//     token endpoint is Switchyard's side, retried without using up an attempt);
//   - 401 again right after a successful refresh: auth_failed, and the connection is
//     deactivated with oauth_reauthorization_required (authentication_invalid for a pasted
//     token, which cannot be refreshed).
//
// newReq is called once per send, so that each send has a fresh body.
func DoAuthorized(ctx context.Context, client *http.Client, tokens Tokens, newReq func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	tok, err := tokens.Token(ctx)
	if err != nil {
		return nil, &AttemptError{TokenResult(err)}
	}
	for refreshed := false; ; refreshed = true {
		req, err := newReq(ctx)
		if err != nil {
			return nil, &AttemptError{Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "cannot build the request: " + err.Error()}}
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := client.Do(req)
		switch {
		case err != nil:
			return nil, err
		case resp.StatusCode != http.StatusUnauthorized:
			return resp, nil
		case refreshed:
			return nil, &AttemptError{Result{Outcome: switchyard.OutcomeAuthFailed, HTTPStatus: http.StatusUnauthorized,
				Response: ReadExcerpt(resp), Message: "The provider refused the credentials right after a token refresh: connect the account again.",
				Deactivate: switchyard.InactiveOAuthReauthorizationNeeded}}
		}
		excerpt := ReadExcerpt(resp)
		fresh, err := tokens.Refresh(ctx, tok)
		if errors.Is(err, ErrCannotRefresh) {
			return nil, &AttemptError{Result{Outcome: switchyard.OutcomeAuthFailed, HTTPStatus: http.StatusUnauthorized, Response: excerpt,
				Message: "The provider refused the token: save a valid one.", Deactivate: switchyard.InactiveAuthenticationInvalid}}
		}
		if err != nil {
			return nil, &AttemptError{TokenResult(err)}
		}
		tok = fresh
	}
}
