package destinationtest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Bounds every result is held to.
const (
	// MaxResponse bounds Result.Response: the status line, a few headers and the first 4 KiB
	// of the body (destination.ReadExcerpt), with room for long header values.
	MaxResponse = 8 << 10
	// MaxMessage bounds Result.Message, a short summary.
	MaxMessage = 1 << 10
	// OversizedBody is the size of the oversized answers: far beyond any excerpt, drain or
	// documented response.
	OversizedBody = 4 << 20
)

// The subtests Run runs, by name (Harness.InternalError names them).
const (
	Success             = "success"
	Validation          = "validation"
	UnauthorizedRefresh = "unauthorized_refresh"
	Unauthorized        = "unauthorized"
	Forbidden           = "forbidden"
	NotFound            = "not_found"
	Conflict            = "conflict"
	Gone                = "gone"
	RateLimited         = "rate_limited"
	ServerError         = "server_error"
	Timeout             = "timeout"
	ConnectionReset     = "connection_reset"
	OversizedSuccess    = "oversized_success_body"
	OversizedError      = "oversized_error_body"
	MalformedSuccess    = "malformed_success_body"
	MalformedError      = "malformed_error_body"
	EchoedSecrets       = "echoed_secrets"
)

var subtests = []string{Success, Validation, UnauthorizedRefresh, Unauthorized, Forbidden, NotFound, Conflict, Gone,
	RateLimited, ServerError, Timeout, ConnectionReset, OversizedSuccess, OversizedError, MalformedSuccess, MalformedError,
	EchoedSecrets}

// Fake controls the provider a Target's sender talks to. *Faults implements it in front of any
// http.Handler. "API requests" are the calls the sender makes to deliver (not the token
// endpoint's, which a refresh needs).
type Fake interface {
	// FailNext makes the next n API requests get a instead of the provider's own answer.
	FailNext(n int, a Answer)
	// Hang makes every API request from now on wait, unanswered, until the client gives up.
	Hang()
	// Reset makes every API request from now on end with its connection reset, unanswered.
	Reset()
}

// Target is one subtest's fake provider and the connection pointed at it.
type Target struct {
	// Sender is provisioned for a connection to the fake, as the engine provisions one
	// (Provision does it).
	Sender destination.Sender
	// Request returns a new representative request for one of the integration's actions on
	// that connection: one the fake accepts when nothing is scripted.
	Request func() *destination.Request
	// Fake controls the provider.
	Fake Fake
	// ExpireToken makes the connection's access token expire at the provider: the next API
	// request answers 401 and the sender's refresh must get a working token. nil when the
	// connection has no refreshable credential (the refresh subtest is then skipped; an OAuth
	// integration's harness must provide it).
	ExpireToken func()
	// Refreshes counts the token refreshes the provider has granted (nil: not counted).
	Refreshes func() int
	// Secrets must never appear in a result: the connection's credentials as configured and
	// as sent (a Basic header's base64), the tokens the fake issued, the app's client secret.
	Secrets []string
	// RateLimitScope is the Result.RateLimitScope a rate limit must name ("" for none).
	RateLimitScope string
}

// Case is the provider's documented answer in one situation and what it must come to.
type Case struct {
	// Answer is the provider's answer, with its documented body and headers.
	Answer Answer
	// Outcome is what it means, where the suite lets the provider decide (see Harness); ""
	// is the suite's default.
	Outcome switchyard.Outcome
	// Deactivate is the inactive_reason the result must ask for ("" for none).
	Deactivate string
}

// Harness is what an integration's test gives Run.
type Harness struct {
	// Integration is the integration under test (its package's Integration()).
	Integration *destination.Integration
	// Start sets up one subtest: a new fake provider on loopback (Serve, or a fake behind a
	// Faults) and a sender for a connection pointed at it. Subtests run in parallel, each with
	// its own Target; release everything with t.Cleanup.
	Start func(t *testing.T) *Target

	// The provider's documented answers. Each needs its status; the suite fails a harness
	// that leaves one out or declares an outcome the case does not allow.

	// Validation: 400 or 422; Outcome validation_failed or rejected_client_error (default:
	// the status's, as destination.ClassifyStatus has it).
	Validation Case
	// Unauthorized: 401, answered to every API request (a refresh does not help); Outcome
	// auth_failed, with the Deactivate the integration asks for.
	Unauthorized Case
	// Forbidden: 403; Outcome auth_failed (default) or rate_limited (a provider whose 403
	// body says a rate limit was hit).
	Forbidden Case
	// NotFound: 404; Outcome destination_not_found.
	NotFound Case
	// Conflict: 409; Outcome destination_conflict (default) or delivered (the provider
	// means "already done").
	Conflict Case
	// Gone: 410; Outcome destination_gone.
	Gone Case
	// RateLimited: 429 with the provider's reset headers; Outcome rate_limited, RetryAfter > 0
	// and Target.RateLimitScope.
	RateLimited Case
	// ServerError: 5xx; Outcome rejected_server_error (retried).
	ServerError Case

	// Deadline is the caller's deadline in the timeout subtest (default 300 ms): the sender
	// must give up by then.
	Deadline time.Duration
	// InternalError names the subtests in which internal_error is the right outcome, each
	// with the reason. Everywhere else internal_error fails the subtest.
	InternalError map[string]string
}

// caseSpec is what the suite allows for a Case.
type caseSpec struct {
	name     string
	statuses func(int) bool
	allowed  []switchyard.Outcome // the first is the default unless defaultOf says otherwise
	retry    bool                 // RetryAfter must be > 0
}

func statusIn(codes ...int) func(int) bool {
	return func(s int) bool { return slices.Contains(codes, s) }
}

func (h *Harness) cases() []struct {
	spec caseSpec
	c    Case
} {
	return []struct {
		spec caseSpec
		c    Case
	}{
		{caseSpec{Validation, statusIn(400, 422), []switchyard.Outcome{switchyard.OutcomeValidationFailed, switchyard.OutcomeRejectedClientError}, false}, h.Validation},
		{caseSpec{Unauthorized, statusIn(401), []switchyard.Outcome{switchyard.OutcomeAuthFailed}, false}, h.Unauthorized},
		{caseSpec{Forbidden, statusIn(403), []switchyard.Outcome{switchyard.OutcomeAuthFailed, switchyard.OutcomeRateLimited}, false}, h.Forbidden},
		{caseSpec{NotFound, statusIn(404), []switchyard.Outcome{switchyard.OutcomeDestinationNotFound}, false}, h.NotFound},
		{caseSpec{Conflict, statusIn(409), []switchyard.Outcome{switchyard.OutcomeDestinationConflict, switchyard.OutcomeDelivered}, false}, h.Conflict},
		{caseSpec{Gone, statusIn(410), []switchyard.Outcome{switchyard.OutcomeDestinationGone}, false}, h.Gone},
		{caseSpec{RateLimited, statusIn(429), []switchyard.Outcome{switchyard.OutcomeRateLimited}, true}, h.RateLimited},
		{caseSpec{ServerError, func(s int) bool { return s >= 500 && s <= 599 }, []switchyard.Outcome{switchyard.OutcomeRejectedServerError}, false}, h.ServerError},
	}
}

// expected is the outcome a declared case must come to, or a harness error.
func expected(spec caseSpec, c Case) (switchyard.Outcome, error) {
	if c.Answer.Status == 0 {
		return "", fmt.Errorf("harness: declare the provider's documented %s answer (Harness.%s.Answer)", spec.name, spec.name)
	}
	if !spec.statuses(c.Answer.Status) {
		return "", fmt.Errorf("harness: the %s answer has status %d, which is not one for this case", spec.name, c.Answer.Status)
	}
	if c.Outcome == "" {
		if spec.name == Validation {
			return destination.ClassifyStatus(c.Answer.Status), nil
		}
		return spec.allowed[0], nil
	}
	if !slices.Contains(spec.allowed, c.Outcome) {
		return "", fmt.Errorf("harness: the %s answer may mean %v, not %s", spec.name, spec.allowed, c.Outcome)
	}
	return c.Outcome, nil
}

// Run runs the conformance suite on the integration h describes, one named subtest per
// situation (the constants above), all in parallel, each on a Target of its own.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Integration == nil || h.Start == nil {
		t.Fatal("harness: Integration and Start are required")
	}
	for name := range h.InternalError {
		if !slices.Contains(subtests, name) {
			t.Fatalf("harness: InternalError names %q, which is not a subtest (%v)", name, subtests)
		}
	}
	deadline := h.Deadline
	if deadline <= 0 {
		deadline = 300 * time.Millisecond
	}

	run := func(name string, f func(t *testing.T, tg *Target, c *checker)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := h.Start(t)
			if tg == nil || tg.Sender == nil || tg.Request == nil || tg.Fake == nil {
				t.Fatal("harness: Start must return a Target with Sender, Request and Fake")
			}
			_, allowed := h.InternalError[name]
			f(t, tg, &checker{secrets: tg.Secrets, internalOK: allowed})
		})
	}

	run(Success, func(t *testing.T, tg *Target, c *checker) {
		res := deliver(t, tg, t.Context())
		c.report(t, res)
		if res.Outcome != switchyard.OutcomeDelivered || res.HTTPStatus < 200 || res.HTTPStatus > 299 || res.Deactivate != "" {
			t.Errorf("result = %s, want delivered with a 2xx status and no deactivation", describe(res))
		}
	})

	for _, cs := range h.cases() {
		run(cs.spec.name, func(t *testing.T, tg *Target, c *checker) {
			want, err := expected(cs.spec, cs.c)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			if cs.spec.name == Unauthorized {
				n = 100 // every API request: the refresh must not help
			}
			before := refreshes(tg)
			tg.Fake.FailNext(n, cs.c.Answer)
			res := deliver(t, tg, t.Context())
			c.report(t, res)
			if res.Outcome != want || res.Deactivate != cs.c.Deactivate {
				t.Errorf("answer %d → %s, want outcome %s, deactivate %q", cs.c.Answer.Status, describe(res), want, cs.c.Deactivate)
			}
			if want != switchyard.OutcomeDelivered && res.HTTPStatus != cs.c.Answer.Status {
				t.Errorf("HTTPStatus = %d, want the provider's %d", res.HTTPStatus, cs.c.Answer.Status)
			}
			if cs.spec.name == ServerError && !res.Outcome.Retryable() {
				t.Errorf("outcome %s of a %d is not retried", res.Outcome, cs.c.Answer.Status)
			}
			if cs.spec.retry && res.RetryAfter <= 0 {
				t.Errorf("RetryAfter = %s, want the wait the provider's headers %v ask for", res.RetryAfter, cs.c.Answer.Header)
			}
			if res.Outcome == switchyard.OutcomeRateLimited && res.RateLimitScope != tg.RateLimitScope {
				t.Errorf("RateLimitScope = %q, want %q", res.RateLimitScope, tg.RateLimitScope)
			}
			if after := refreshes(tg); after-before > 1 {
				t.Errorf("the sender refreshed its token %d times in one attempt, want at most once", after-before)
			}
		})
	}

	run(UnauthorizedRefresh, func(t *testing.T, tg *Target, c *checker) {
		if tg.ExpireToken == nil {
			if h.Integration.AuthType == destination.AuthOAuth {
				t.Fatal("harness: an OAuth integration's Target must set ExpireToken (provision the connection with a managed, refreshable credential)")
			}
			t.Skipf("%s connections have no refreshable credential (Target.ExpireToken is nil)", h.Integration.Type)
		}
		before := refreshes(tg)
		tg.ExpireToken()
		res := deliver(t, tg, t.Context())
		c.report(t, res)
		if res.Outcome != switchyard.OutcomeDelivered || res.Deactivate != "" {
			t.Errorf("with an expired token: %s, want delivered after one refresh", describe(res))
		}
		if tg.Refreshes != nil {
			if got := refreshes(tg) - before; got != 1 {
				t.Errorf("the provider granted %d refreshes, want 1", got)
			}
		}
		// The refreshed token is kept: the next attempt needs no refresh.
		res = deliver(t, tg, t.Context())
		c.report(t, res)
		if res.Outcome != switchyard.OutcomeDelivered {
			t.Errorf("the attempt after the refresh: %s, want delivered", describe(res))
		}
		if tg.Refreshes != nil {
			if got := refreshes(tg) - before; got != 1 {
				t.Errorf("after a second attempt the provider granted %d refreshes in all, want 1", got)
			}
		}
	})

	run(Timeout, func(t *testing.T, tg *Target, c *checker) {
		tg.Fake.Hang()
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		start := time.Now()
		res := deliver(t, tg, ctx)
		took := time.Since(start)
		c.report(t, res)
		if res.Outcome != switchyard.OutcomeTimeout || res.HTTPStatus != 0 {
			t.Errorf("a provider that never answers: %s, want timeout without a status", describe(res))
		}
		if took > deadline+5*time.Second {
			t.Errorf("the attempt took %s; the caller's deadline was %s", took, deadline)
		}
	})

	run(ConnectionReset, func(t *testing.T, tg *Target, c *checker) {
		tg.Fake.Reset()
		res := deliver(t, tg, t.Context())
		c.report(t, res)
		if res.Outcome != switchyard.OutcomeNetworkError || res.HTTPStatus != 0 {
			t.Errorf("a reset connection: %s, want network_error without a status", describe(res))
		}
	})

	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	oversized := `{"data":"` + strings.Repeat("x", OversizedBody) + `"}`
	malformed := `{"id": "4815162342", "results": [` + "\n<html><body><h1>502 Bad Gateway</h1>\x00\xff\xfe</body></html>"
	definite := func(name string, a Answer) {
		run(name, func(t *testing.T, tg *Target, c *checker) {
			tg.Fake.FailNext(100, a)
			res := deliver(t, tg, t.Context())
			c.report(t, res) // a known outcome, bounded, clean
		})
	}
	definite(OversizedSuccess, Answer{Status: http.StatusOK, Header: jsonHeader, Body: oversized})
	definite(OversizedError, Answer{Status: http.StatusInternalServerError, Header: jsonHeader, Body: oversized})
	definite(MalformedSuccess, Answer{Status: http.StatusOK, Header: jsonHeader, Body: malformed})
	definite(MalformedError, Answer{Status: http.StatusBadRequest, Header: jsonHeader, Body: malformed})

	run(EchoedSecrets, func(t *testing.T, tg *Target, c *checker) {
		if len(c.secrets) == 0 {
			t.Skip("the harness declares no secrets")
		}
		all := strings.Join(tg.Secrets, " ")
		echo := func(status int) Answer {
			return Answer{Status: status,
				Header: http.Header{"Content-Type": {"application/json"}, "Location": {"https://echo.example/?token=" + tg.Secrets[0]},
					"Www-Authenticate": {`Bearer realm="` + tg.Secrets[0] + `"`}},
				Body: `{"message":"you sent: ` + all + `","error":"` + all + `"}`}
		}
		for _, status := range []int{http.StatusBadRequest, http.StatusOK} {
			tg.Fake.FailNext(1, echo(status))
			res := deliver(t, tg, t.Context())
			c.report(t, res)
		}
	})
}

func refreshes(tg *Target) int {
	if tg.Refreshes == nil {
		return 0
	}
	return tg.Refreshes()
}

// deliver makes one attempt with a new request, reporting a panic as a failure.
func deliver(t *testing.T, tg *Target, ctx context.Context) (res destination.Result) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Deliver panicked: %v", r)
			res = destination.Result{Outcome: switchyard.OutcomeInternalError, Message: "panic"}
		}
	}()
	return tg.Sender.Deliver(ctx, tg.Request())
}

func describe(r destination.Result) string {
	return fmt.Sprintf("{%s %d retry-after %s deactivate %q scope %q: %q}", r.Outcome, r.HTTPStatus, r.RetryAfter, r.Deactivate, r.RateLimitScope, r.Message)
}

// checker holds every result to what any attempt must be.
type checker struct {
	secrets    []string
	internalOK bool
}

func (c *checker) report(t *testing.T, res destination.Result) {
	t.Helper()
	for _, p := range c.problems(res) {
		t.Error(p)
	}
}

var outcomes = []switchyard.Outcome{
	switchyard.OutcomeDelivered, switchyard.OutcomeRateLimited, switchyard.OutcomeAuthFailed, switchyard.OutcomeTimeout,
	switchyard.OutcomeNetworkError, switchyard.OutcomeMappingError, switchyard.OutcomeRejectedClientError,
	switchyard.OutcomeRejectedServerError, switchyard.OutcomeInternalError, switchyard.OutcomeInvalidRequest,
	switchyard.OutcomeValidationFailed, switchyard.OutcomeDestinationNotFound, switchyard.OutcomeDestinationConflict,
	switchyard.OutcomeDestinationGone, switchyard.OutcomeDestinationTimeout, switchyard.OutcomePayloadTooLarge,
}

var inactiveReasons = []string{"", switchyard.InactiveAuthenticationInvalid, switchyard.InactiveOAuthAuthorizationRevoked,
	switchyard.InactiveOAuthReauthorizationNeeded, destination.InactiveDestinationGone}

// problems lists what is wrong with res whatever the situation: an outcome outside the shared
// codes (or internal_error where it is not allowed), a secret in the message or the excerpt,
// text that cannot be stored (invalid UTF-8, NUL), an unbounded excerpt or message.
func (c *checker) problems(res destination.Result) []string {
	var out []string
	switch {
	case !slices.Contains(outcomes, res.Outcome):
		out = append(out, fmt.Sprintf("outcome %q is not one of the shared outcome codes", res.Outcome))
	case res.Outcome == switchyard.OutcomeInternalError && !c.internalOK:
		out = append(out, "outcome internal_error: the sender did not classify the failure ("+res.Message+")")
	}
	if res.Outcome != switchyard.OutcomeDelivered && strings.TrimSpace(res.Message) == "" {
		out = append(out, fmt.Sprintf("outcome %s without a message", res.Outcome))
	}
	if !slices.Contains(inactiveReasons, res.Deactivate) {
		out = append(out, fmt.Sprintf("Deactivate %q is not an inactive reason", res.Deactivate))
	}
	if res.RetryAfter < 0 {
		out = append(out, fmt.Sprintf("RetryAfter %s is negative", res.RetryAfter))
	}
	for _, f := range []struct {
		name, text string
		max        int
	}{{"Message", res.Message, MaxMessage}, {"Response", res.Response, MaxResponse}} {
		if len(f.text) > f.max {
			out = append(out, fmt.Sprintf("%s is %d bytes, more than %d", f.name, len(f.text), f.max))
		}
		if !utf8.ValidString(f.text) {
			out = append(out, f.name+" is not valid UTF-8")
		}
		if strings.ContainsRune(f.text, 0) {
			out = append(out, f.name+" holds a NUL")
		}
		for n, s := range c.secrets {
			if s != "" && strings.Contains(f.text, s) {
				out = append(out, fmt.Sprintf("%s holds secret %d of the harness", f.name, n))
			}
		}
	}
	return out
}
