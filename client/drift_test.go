package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// operations maps every operationId of the OpenAPI document the server serves to the client
// method that calls it. A route added to the API without a client method fails
// TestClientMatchesOpenAPI until it gets one (and a row here); a method here whose request does
// not match its operation's method and path fails it too.
var operations = map[string]string{
	"healthz":    "Health",
	"readyz":     "Ready",
	"getOpenAPI": "OpenAPI",

	// CORS preflights are the browser's business.
	"preflightEvent":     "",
	"preflightBulkEvent": "",

	"createEvent":                        "EmitEvent",
	"createBulkEvent":                    "EmitEvents",
	"getEvents":                          "ListEvents",
	"getEvent":                           "GetEvent",
	"getEventPayload":                    "GetEventPayload",
	"cancelEvent":                        "CancelEvent",
	"getEventRuleAttempts":               "ListAttempts",
	"getEventRuleAttempt":                "GetAttempt",
	"getEventRuleAttemptResponseDetails": "GetAttemptResponseDetails",
	"retryEventRule":                     "RetryDelivery",
	"cancelEventRule":                    "CancelDelivery",

	"getWorkspaces":                 "ListWorkspaces",
	"createWorkspace":               "CreateWorkspace",
	"getWorkspace":                  "GetWorkspace",
	"updateWorkspace":               "UpdateWorkspace",
	"getWorkspaceConnections":       "ListWorkspaceConnections",
	"getWorkspaceRules":             "ListWorkspaceRules",
	"getWorkspaceEvents":            "ListWorkspaceEvents",
	"getWorkspaceEventTypes":        "ListWorkspaceEventTypes",
	"getWorkspaceResources":         "ListWorkspaceResources",
	"rotateWorkspacePublishableKey": "RotatePublishableKey",

	"getConnections":                  "ListConnections",
	"createConnection":                "CreateConnection",
	"getConnection":                   "GetConnection",
	"updateConnection":                "UpdateConnection",
	"deleteConnection":                "DeleteConnection",
	"getConnectionActions":            "GetConnectionActions",
	"getConnectionFields":             "GetConnectionFields",
	"getConnectionDefaultMappings":    "GetDefaultMapping",
	"updateConnectionDefaultMappings": "UpdateDefaultMapping",
	"startConnectionOAuth":            "StartOAuth",
	// The provider redirects the customer's browser here at the end of an OAuth flow; no
	// program calls it, so the client has no method for it.
	"oauthCallback": "",

	"getIntegrations": "ListIntegrations",

	"getConnectionHealth": "GetConnectionHealth",
	"getWorkspaceBacklog": "GetWorkspaceBacklog",

	"getRules":   "ListRules",
	"createRule": "CreateRule",
	"getRule":    "GetRule",
	"deleteRule": "DeleteRule",
	"testRule":   "TestRule",

	"getMachineKeys":   "ListMachineKeys",
	"createMachineKey": "CreateMachineKey",
	"revokeMachineKey": "RevokeMachineKey",

	"listSessions":   "ListSessions",
	"createSession":  "CreateSession",
	"refreshSession": "RefreshSession",
	"revokeSession":  "RevokeSession",
}

// iterators maps each iterator to the list method whose pages it walks.
var iterators = map[string]string{
	"Workspaces":           "ListWorkspaces",
	"WorkspaceConnections": "ListWorkspaceConnections",
	"WorkspaceRules":       "ListWorkspaceRules",
	"WorkspaceEvents":      "ListWorkspaceEvents",
	"Connections":          "ListConnections",
	"Rules":                "ListRules",
	"Events":               "ListEvents",
	"Attempts":             "ListAttempts",
	"Integrations":         "ListIntegrations",
	"MachineKeys":          "ListMachineKeys",
	"Sessions":             "ListSessions",
}

// notRoutes are the exported methods of *Client that call no one route of their own.
var notRoutes = []string{"Do"}

type route struct{ method, path string }

// recorder answers every request 404 and remembers its method and path.
type recorder struct {
	mu  sync.Mutex
	got []route
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.got = append(r.got, route{req.Method, req.URL.EscapedPath()})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"message":"Not Found","error":{"name":"NotFound","message":"recorded"}}`))
}

func (r *recorder) take() []route {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// callArgs builds arguments for a client method: the context, fresh ids, and zero values that
// are valid enough to be sent.
func callArgs(t *testing.T, m reflect.Method) []reflect.Value {
	t.Helper()
	args := []reflect.Value{}
	for i := 1; i < m.Type.NumIn(); i++ { // 0 is the receiver
		in := m.Type.In(i)
		switch {
		case in == reflect.TypeFor[context.Context]():
			args = append(args, reflect.ValueOf(context.Background()))
		case in == reflect.TypeFor[uuid.UUID]():
			args = append(args, reflect.ValueOf(uuid.New()))
		case in == reflect.TypeFor[client.EventInput]():
			args = append(args, reflect.ValueOf(client.EventInput{Event: "e", Payload: map[string]any{}}))
		case in == reflect.TypeFor[[]client.EventInput]():
			args = append(args, reflect.ValueOf([]client.EventInput{{Event: "e", Payload: map[string]any{}}}))
		case in.Kind() == reflect.String:
			args = append(args, reflect.ValueOf("sess_"+uuid.NewString()).Convert(in))
		default:
			args = append(args, reflect.Zero(in))
		}
	}
	return args
}

// pathPattern turns an OpenAPI path template into a regexp matching its concrete paths.
func pathPattern(p string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), "[^/]+") + "$")
}

func TestClientMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	// The document as the server serves it, fetched in-process through HandlerTransport.
	inproc, err := client.New("http://switchyard.test", client.WithHTTPClient(&http.Client{Transport: client.HandlerTransport(s.app.Handler())}))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inproc.OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]route{}
	for path, item := range doc.Paths {
		for method, op := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
			default:
				continue
			}
			var o struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(op, &o); err != nil || o.OperationID == "" {
				t.Fatalf("%s %s has no operationId (%v)", method, path, err)
			}
			ops[o.OperationID] = route{strings.ToUpper(method), path}
		}
	}

	rec := &recorder{}
	c, err := client.New("http://switchyard.test", client.WithBearerToken("t"), client.WithRetries(0),
		client.WithHTTPClient(&http.Client{Transport: client.HandlerTransport(rec)}))
	if err != nil {
		t.Fatal(err)
	}
	cv := reflect.ValueOf(c)
	ct := cv.Type()
	call := func(t *testing.T, name string) []route {
		t.Helper()
		m, ok := ct.MethodByName(name)
		if !ok {
			t.Fatalf("*client.Client has no method %s", name)
		}
		out := m.Func.Call(append([]reflect.Value{cv}, callArgs(t, m)...))
		if len(out) == 1 && out[0].Kind() == reflect.Func { // an iterator: range over it, stopping at once
			stop := reflect.MakeFunc(out[0].Type().In(0), func([]reflect.Value) []reflect.Value {
				return []reflect.Value{reflect.ValueOf(false)}
			})
			out[0].Call([]reflect.Value{stop})
		}
		return rec.take()
	}

	t.Run("every operation of the document has a client method that sends its method and path", func(t *testing.T) {
		for id, want := range ops {
			name, ok := operations[id]
			if !ok {
				t.Errorf("operation %s (%s %s) has no client method: add one, and a row to operations", id, want.method, want.path)
				continue
			}
			if name == "" {
				continue
			}
			got := call(t, name)
			if len(got) != 1 || got[0].method != want.method || !pathPattern(want.path).MatchString(got[0].path) {
				t.Errorf("%s (for %s) sent %v, want one %s %s", name, id, got, want.method, want.path)
			}
		}
	})

	t.Run("every operation in the table exists in the document", func(t *testing.T) {
		for id := range operations {
			if _, ok := ops[id]; !ok {
				t.Errorf("operations names %s, which the document does not have", id)
			}
		}
	})

	t.Run("every exported method of the client calls a documented route", func(t *testing.T) {
		mapped := map[string]bool{}
		for _, name := range operations {
			mapped[name] = true
		}
		for i := range ct.NumMethod() {
			name := ct.Method(i).Name
			switch {
			case mapped[name] || slices.Contains(notRoutes, name):
			case iterators[name] != "":
				// An iterator must call its list method's route.
				want := call(t, iterators[name])
				if got := call(t, name); len(got) != 1 || len(want) != 1 || got[0].method != want[0].method ||
					!pathPattern(pathTemplate(ops, operations, iterators[name])).MatchString(got[0].path) {
					t.Errorf("iterator %s sent %v, its list method %s sends %v", name, got, iterators[name], want)
				}
			default:
				t.Errorf("method %s is in neither operations, iterators nor notRoutes", name)
			}
		}
	})
}

// pathTemplate returns the document path of the operation whose client method is name.
func pathTemplate(ops map[string]route, table map[string]string, name string) string {
	for id, n := range table {
		if n == name {
			return ops[id].path
		}
	}
	return "(none)"
}
