package mcp

import (
	"context"
	"errors"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/client"
)

// Resources: read-only JSON views a client can attach to a conversation, addressed by URI
// templates. They read through the same client, and so the same authorization, as the tools.

// resourceKinds maps a URI template's collection to its API path.
var resourceKinds = []struct {
	collection, name, description string
}{
	{"workspaces", "workspace", "A workspace (name, description, publishable key) as JSON."},
	{"connections", "connection", "A connection (type, name, metadata with secrets masked, active flag) as JSON."},
	{"events", "event", "An event with its status and its deliveries (rule_events) as JSON."},
}

// URIScheme is the scheme of the resources' URIs: switchyard://workspaces/{id}.
const URIScheme = "switchyard"

func (t *tools) addResources() {
	for _, k := range resourceKinds {
		prefix := URIScheme + "://" + k.collection + "/"
		t.srv.AddResourceTemplate(&sdk.ResourceTemplate{
			Name:        k.name,
			Title:       strings.ToUpper(k.name[:1]) + k.name[1:],
			URITemplate: prefix + "{id}",
			Description: k.description,
			MIMEType:    "application/json",
		}, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			uri := req.Params.URI
			id, err := uuidArg("id", strings.TrimPrefix(uri, prefix))
			if err != nil {
				return nil, sdk.ResourceNotFoundError(uri)
			}
			c, err := t.cfg.Client(ctx, req.Extra)
			if err != nil {
				return nil, errors.New(errorText(err))
			}
			data, err := get(ctx, c, "/"+k.collection+"/"+id, nil)
			if client.IsNotFound(err) {
				return nil, sdk.ResourceNotFoundError(uri)
			} else if err != nil {
				return nil, errors.New(errorText(err))
			}
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "application/json", Text: pretty(data)}}}, nil
		})
	}
}
