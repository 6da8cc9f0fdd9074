package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Keys: the machine-keys extension (/api/v1/machine-keys) and publishable key rotation. The
// Meshes API v1 documents neither; docs/decisions.md §2 decides them.

// MachineKeyJSON is a machine key as the API shows it (the keys CLI prints the same shape). SecretKey is set only in the answer to
// the create, the one time the secret is shown. Empty workspaces and permissions mean no limit.
type MachineKeyJSON struct {
	ID          uuid.UUID               `json:"id"`
	Name        string                  `json:"name"`
	AccessKey   string                  `json:"access_key"`
	SecretKey   string                  `json:"secret_key,omitempty"`
	Workspaces  []uuid.UUID             `json:"workspaces"`
	Permissions []switchyard.Permission `json:"permissions"`
	CreatedAt   time.Time               `json:"created_at"`
	RevokedAt   *time.Time              `json:"revoked_at"`
}

// MachineKeyWire returns k as the API shows it, without its secret.
func MachineKeyWire(k *switchyard.MachineKey) *MachineKeyJSON {
	out := &MachineKeyJSON{ID: k.ID, Name: k.Name, AccessKey: k.AccessKey, Workspaces: k.Workspaces,
		Permissions: k.Permissions, CreatedAt: k.CreatedAt, RevokedAt: utcPtr(k.RevokedAt)}
	if out.Workspaces == nil {
		out.Workspaces = []uuid.UUID{}
	}
	if out.Permissions == nil {
		out.Permissions = []switchyard.Permission{}
	}
	return out
}

// maxKeyWorkspaces bounds a key's workspace list: the list is read on every request the key
// makes, and a key for more workspaces than this is better left unlimited.
const maxKeyWorkspaces = 100

// machineKeyRequest is the body of POST /machine-keys.
type machineKeyRequest struct {
	Name        *string  `json:"name"`
	Workspaces  []string `json:"workspaces"`
	Permissions []string `json:"permissions"`
}

func (s *Server) machineKeyList(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if err := p.requireUnlimited(); err != nil {
		return err
	}
	lq, err := parseListQuery(r, 0)
	if err != nil {
		return err
	}
	page, err := s.Store.MachineKeyList(r.Context(), store.MachineKeyListParams{ListParams: lq.list(p)})
	if err != nil {
		return err
	}
	records := make([]*MachineKeyJSON, 0, len(page.Records))
	for _, k := range page.Records {
		records = append(records, MachineKeyWire(k))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// machineKeyCreate creates a machine key, optionally limited to some workspaces of the
// organization and to some permissions, and shows its secret this once.
func (s *Server) machineKeyCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	if err := p.requireUnlimited(); err != nil {
		return err
	}
	var req machineKeyRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	out, err := s.CreateMachineKey(ctx, p.OrganizationID, req.Name, req.Workspaces, req.Permissions)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"machine_key": out})
	return nil
}

// CreateMachineKey validates and creates a machine key of organization orgID, as POST
// /api/v1/machine-keys does (the operator dashboard calls it too), and returns it with its
// secret, to show once. Invalid input is a *switchyard.Error with field errors.
func (s *Server) CreateMachineKey(ctx context.Context, orgID uuid.UUID, name *string, workspaces, permissions []string) (*MachineKeyJSON, error) {
	var f fields
	f.checkString("name", name, true, 1, 100, nil, "")
	if len(workspaces) > maxKeyWorkspaces {
		f.add("workspaces", fmt.Sprintf("must list at most %d workspaces", maxKeyWorkspaces))
	}
	var ids []uuid.UUID
	for i, v := range workspaces {
		id := f.checkUUID(fmt.Sprintf("workspaces[%d]", i), &v)
		if id != uuid.Nil && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var perms []switchyard.Permission
	for i, v := range permissions {
		perm, err := switchyard.ParsePermission(v)
		if err != nil {
			f.add(fmt.Sprintf("permissions[%d]", i), err.Error())
			continue
		}
		perms = append(perms, perm)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	for i, id := range ids {
		if _, err := s.Store.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: orgID, ID: id}); errors.Is(err, store.ErrNotFound) {
			return nil, invalid(switchyard.FieldError{Param: fmt.Sprintf("workspaces[%d]", i), Msg: "is not a workspace of this organization"})
		} else if err != nil {
			return nil, err
		}
	}
	key, secretKey, err := auth.NewMachineKey(s.Box, orgID, *name, ids, perms, s.Now())
	if err != nil {
		return nil, err
	}
	if err := s.Store.MachineKeyInsert(ctx, key); err != nil {
		return nil, err
	}
	out := MachineKeyWire(key)
	out.SecretKey = secretKey
	return out, nil
}

// machineKeyRevoke revokes a machine key and answers it. It stops working on this node at once
// (the credential cache forgets it); other nodes cache credentials for up to credentialTTL.
// Revoking a revoked key changes nothing.
func (s *Server) machineKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if err := p.requireUnlimited(); err != nil {
		return err
	}
	id, err := pathID(r, "key_id")
	if err != nil {
		return err
	}
	key, err := s.RevokeMachineKey(r.Context(), p.OrganizationID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, MachineKeyWire(key))
	return nil
}

// publishableKeyRotate gives a workspace a new publishable key and answers the workspace with
// it. The old key stops working on this node at once and on other nodes within credentialTTL.
func (s *Server) publishableKeyRotate(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	id, err := pathID(r, "workspace_id")
	if err != nil {
		return err
	}
	if _, err := s.workspace(r, id); err != nil {
		return err
	}
	ws, err := s.RotatePublishableKey(r.Context(), p.OrganizationID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, workspaceWire(ws, true))
	return nil
}

// RevokeMachineKey revokes one of organization orgID's machine keys (idempotent) and makes
// this node forget it at once, as DELETE /api/v1/machine-keys/{key_id} does.
func (s *Server) RevokeMachineKey(ctx context.Context, orgID, id uuid.UUID) (*switchyard.MachineKey, error) {
	key, err := s.Store.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: orgID, ID: id, Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Machine key")
	} else if err != nil {
		return nil, err
	}
	s.machineKeys.forget(func(accessKey string, _ cachedKey) bool { return accessKey == key.AccessKey })
	return key, nil
}

// RotatePublishableKey gives one of organization orgID's workspaces a new publishable key and
// makes this node forget the old one at once, as the API's rotation route does.
func (s *Server) RotatePublishableKey(ctx context.Context, orgID, id uuid.UUID) (*switchyard.Workspace, error) {
	key, err := auth.GeneratePublishableKey()
	if err != nil {
		return nil, err
	}
	ws, err := s.Store.WorkspacePublishableKeyRotate(ctx, store.WorkspacePublishableKeyRotateParams{
		OrganizationID: orgID, ID: id, PublishableKey: key, Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Workspace")
	} else if err != nil {
		return nil, err
	}
	s.pubKeys.forget(func(_ string, cached *switchyard.Workspace) bool { return cached != nil && cached.ID == id })
	return ws, nil
}
