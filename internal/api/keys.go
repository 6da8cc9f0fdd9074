package api

import (
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
// Meshes API v1 documents neither; product.md §2 decides them.

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
	var f fields
	f.checkString("name", req.Name, true, 1, 100, nil, "")
	if len(req.Workspaces) > maxKeyWorkspaces {
		f.add("workspaces", fmt.Sprintf("must list at most %d workspaces", maxKeyWorkspaces))
	}
	var workspaces []uuid.UUID
	for i, v := range req.Workspaces {
		id := f.checkUUID(fmt.Sprintf("workspaces[%d]", i), &v)
		if id != uuid.Nil && !slices.Contains(workspaces, id) {
			workspaces = append(workspaces, id)
		}
	}
	var permissions []switchyard.Permission
	for i, v := range req.Permissions {
		perm, err := switchyard.ParsePermission(v)
		if err != nil {
			f.add(fmt.Sprintf("permissions[%d]", i), err.Error())
			continue
		}
		permissions = append(permissions, perm)
	}
	if err := f.err(); err != nil {
		return err
	}
	for i, id := range workspaces {
		if _, err := s.Store.WorkspaceGet(ctx, p.OrganizationID, id); errors.Is(err, store.ErrNotFound) {
			return invalid(switchyard.FieldError{Param: fmt.Sprintf("workspaces[%d]", i), Msg: "is not a workspace of this organization"})
		} else if err != nil {
			return err
		}
	}
	key, secretKey, err := auth.NewMachineKey(s.Box, p.OrganizationID, *req.Name, workspaces, permissions, s.Now())
	if err != nil {
		return err
	}
	if err := s.Store.MachineKeyInsert(ctx, key); err != nil {
		return err
	}
	out := MachineKeyWire(key)
	out.SecretKey = secretKey
	writeJSON(w, http.StatusCreated, map[string]any{"machine_key": out})
	return nil
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
	key, err := s.Store.MachineKeyRevoke(r.Context(), store.MachineKeyRevokeParams{OrganizationID: p.OrganizationID, ID: id,
		Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Machine key")
	} else if err != nil {
		return err
	}
	s.machineKeys.forget(func(accessKey string, _ cachedKey) bool { return accessKey == key.AccessKey })
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
	key, err := auth.GeneratePublishableKey()
	if err != nil {
		return err
	}
	ws, err := s.Store.WorkspacePublishableKeyRotate(r.Context(), store.WorkspacePublishableKeyRotateParams{
		OrganizationID: p.OrganizationID, ID: id, PublishableKey: key, Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Workspace")
	} else if err != nil {
		return err
	}
	s.pubKeys.forget(func(_ string, cached *switchyard.Workspace) bool { return cached != nil && cached.ID == id })
	writeJSON(w, http.StatusOK, workspaceWire(ws, true))
	return nil
}
