package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// KeysCmd manages machine keys directly in the store, with or without a server running: for
// the first keys of a fresh install, and to regain access when no unlimited key is left. The
// API's /api/v1/machine-keys does the same over HTTP.
type KeysCmd struct {
	Create KeysCreateCmd `cmd:"" help:"Create a machine key, optionally limited to some workspaces and permissions; prints its secret once."`
	List   KeysListCmd   `cmd:"" help:"List the organization's machine keys (never their secrets)."`
	Revoke KeysRevokeCmd `cmd:"" help:"Revoke a machine key by access key or id (running servers stop accepting it within 5 seconds)."`
}

// keysStore holds the flags every keys command shares: the store, as for init, and the
// organization to act on.
type keysStore struct {
	config.Store `embed:""`
	Org          string `name:"org" env:"SWITCHYARD_ORG_ID" help:"Organization id (default: the store's first organization)."`
}

// open opens the store and finds the organization to act on. Close the App when done.
func (c *keysStore) open(ctx context.Context) (*app.App, *switchyard.Organization, error) {
	orgID := uuid.Nil
	if c.Org != "" {
		id, err := uuid.Parse(c.Org)
		if err != nil {
			return nil, nil, errors.New("--org must be a UUID")
		}
		orgID = id
	}
	cfg := config.Default()
	cfg.Store = c.Store
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	org, err := a.Organization(ctx, orgID)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, org, nil
}

// keyJSON is a machine key as the keys commands print it with --json: the API's shape, plus
// the organization id (needed to mint tokens) and, after create only, the secret key.
type keyJSON struct {
	OrganizationID uuid.UUID `json:"organization_id"`
	*api.MachineKeyJSON
}

func keyWire(k *switchyard.MachineKey) *keyJSON {
	return &keyJSON{OrganizationID: k.OrganizationID, MachineKeyJSON: api.MachineKeyWire(k)}
}

// KeysCreateCmd creates a machine key.
type KeysCreateCmd struct {
	keysStore   `embed:""`
	Name        string   `name:"name" default:"cli" help:"A name to recognise the key by."`
	Workspaces  []string `name:"workspace" help:"Limit the key to this workspace id (repeat for several; default: every workspace)."`
	Permissions []string `name:"permission" help:"Limit the key to read, write or events:emit (repeat for several; default: all)."`
	JSON        bool     `name:"json" help:"Print the key as one JSON object."`
}

// Run creates the key and prints it with its secret, once.
func (c *KeysCreateCmd) Run(e *env) error {
	var workspaces []uuid.UUID
	for _, v := range c.Workspaces {
		id, err := uuid.Parse(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("--workspace %q is not a UUID", v)
		}
		workspaces = append(workspaces, id)
	}
	var permissions []switchyard.Permission
	for _, v := range c.Permissions {
		p, err := switchyard.ParsePermission(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("--permission %q %w", v, err)
		}
		permissions = append(permissions, p)
	}
	a, org, err := c.open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	key, secretKey, err := a.CreateMachineKey(e.ctx, org.ID, strings.TrimSpace(c.Name), workspaces, permissions)
	if err != nil {
		return err
	}
	out := keyWire(key)
	out.SecretKey = secretKey
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(out)
	}
	fmt.Fprintf(e.stdout, `
Created machine key %q. The secret key is shown once; keep it safe.

  organization id   %s
  key id            %s
  access key        %s
  secret key        %s
  workspaces        %s
  permissions       %s

`, key.Name, key.OrganizationID, key.ID, key.AccessKey, secretKey, workspacesText(key), permissionsText(key))
	return nil
}

// KeysListCmd lists machine keys.
type KeysListCmd struct {
	keysStore `embed:""`
	JSON      bool `name:"json" help:"Print the keys as one JSON array."`
}

// Run prints every key of the organization, newest first, revoked ones included.
func (c *KeysListCmd) Run(e *env) error {
	a, org, err := c.open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var keys []*switchyard.MachineKey
	for cursor := ""; ; {
		page, err := a.Store.MachineKeyList(e.ctx, store.MachineKeyListParams{ListParams: store.ListParams{
			OrganizationID: org.ID, Limit: 200, Cursor: cursor}})
		if err != nil {
			return err
		}
		keys = append(keys, page.Records...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if c.JSON {
		out := make([]*keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyWire(k))
		}
		return json.NewEncoder(e.stdout).Encode(out)
	}
	return printKeys(e.stdout, keys)
}

func printKeys(w io.Writer, keys []*switchyard.MachineKey) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCESS KEY\tNAME\tWORKSPACES\tPERMISSIONS\tCREATED\tREVOKED\tID")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.AccessKey, k.Name, workspacesText(k), permissionsText(k),
			k.CreatedAt.UTC().Format(time.RFC3339), revoked, k.ID)
	}
	return tw.Flush()
}

func workspacesText(k *switchyard.MachineKey) string {
	if len(k.Workspaces) == 0 {
		return "all"
	}
	ids := make([]string, len(k.Workspaces))
	for i, id := range k.Workspaces {
		ids[i] = id.String()
	}
	return strings.Join(ids, ",")
}

func permissionsText(k *switchyard.MachineKey) string {
	if len(k.Permissions) == 0 {
		return "all"
	}
	ps := make([]string, len(k.Permissions))
	for i, p := range k.Permissions {
		ps[i] = string(p)
	}
	return strings.Join(ps, ",")
}

// KeysRevokeCmd revokes a machine key.
type KeysRevokeCmd struct {
	keysStore `embed:""`
	Key       string `arg:"" name:"access-key-or-id" help:"The key's access key (mk_…) or id."`
}

// Run revokes the key. Revoking a revoked key changes nothing.
func (c *KeysRevokeCmd) Run(e *env) error {
	a, org, err := c.open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	id, err := uuid.Parse(c.Key)
	if err != nil {
		k, err := a.Store.MachineKeyGetByAccessKey(e.ctx, c.Key)
		if errors.Is(err, store.ErrNotFound) || err == nil && k.OrganizationID != org.ID {
			return fmt.Errorf("organization %s has no machine key %s", org.ID, c.Key)
		} else if err != nil {
			return err
		}
		id = k.ID
	}
	// The store keeps microseconds: a revocation made now reads back as exactly this time.
	before := time.Now().UTC().Truncate(time.Microsecond)
	key, err := a.Store.MachineKeyRevoke(e.ctx, store.MachineKeyRevokeParams{OrganizationID: org.ID, ID: id, Now: before})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("organization %s has no machine key %s", org.ID, c.Key)
	} else if err != nil {
		return err
	}
	if key.RevokedAt.Before(before) {
		fmt.Fprintf(e.stdout, "Machine key %s (%s) was already revoked at %s.\n", key.AccessKey, key.ID, key.RevokedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(e.stdout, "Revoked machine key %s (%s). Running servers stop accepting it within 5 seconds.\n", key.AccessKey, key.ID)
	return nil
}
