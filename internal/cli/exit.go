package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/client"
)

// The exit codes of every command (docs/cli.md). Scripts can tell a mistake in the command
// line from a refusal by the server and from a server that could not be reached.
const (
	exitOK      = 0
	exitFailure = 1 // anything else: a local file that cannot be read, a failed delivery awaited, …
	exitUsage   = 2 // the command line is wrong: unknown flag, missing argument, malformed value
	exitAPI     = 3 // the server answered with an error (4xx/5xx): the message is the API's
	exitNetwork = 4 // the server could not be reached, or the connection broke
	exitSignal  = 130
)

// usageError is a command line that parses but makes no sense (a value that is not a UUID, two
// payload sources at once): exit code 2, like kong's own parse errors.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	var ae *client.Error
	var ne net.Error
	var ue2 *url.Error
	var oe *net.OpError
	var re *refusedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ae), errors.As(err, &re):
		return exitAPI
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitSignal
	case errors.As(err, &ue2), errors.As(err, &oe), errors.As(err, &ne):
		return exitNetwork
	}
	return exitFailure
}

// printError writes a command's error on stderr. An API error shows the API's message, the
// status, the request id to quote, and each invalid field on a line of its own.
func printError(w io.Writer, err error) {
	var ae *client.Error
	var ue *url.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ue):
		// "client: GET /events: Get \"http://…/api/v1/events?limit=50\": dial tcp …" says the
		// same thing three times; name the server and the cause once.
		server := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			server = u.Scheme + "://" + u.Host
		}
		fmt.Fprintf(w, "switchyard: cannot reach %s: %v\n", server, ue.Err)
		return
	default:
		fmt.Fprintln(w, "switchyard:", err)
		return
	}
	// What the command said around the API's error ("checking the key against …: ").
	prefix := strings.TrimSuffix(err.Error(), ae.Error())
	fmt.Fprintf(w, "switchyard: %s%s (%d from %s %s", prefix, ae.Message, ae.StatusCode, ae.Method, ae.Path)
	if ae.RequestID != "" {
		fmt.Fprintf(w, ", request id %s", ae.RequestID)
	}
	fmt.Fprintln(w, ")")
	for _, f := range ae.Fields {
		fmt.Fprintf(w, "  %s: %s\n", f.Param, f.Msg)
	}
}
