package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

// --- embed sessions ---

const sessionCols = `id, organization_id, workspace_id, role, session_type, resource, resource_id, external_user_id,
	allowed_origins, scopes, launch_page, ttl_seconds, token_hash, token_version, launch_hash, launch_expires_at,
	launch_used_at, created_by, created_at, expires_at, refreshed_at, revoked_at`

func scanSession(s scanner) (*store.Session, error) {
	var (
		ss                                         store.Session
		external                                   sql.NullString
		origins, scopes                            string
		ttl, launchExpiresAt, createdAt, expiresAt int64
		launchUsedAt, refreshedAt, revokedAt       sql.NullInt64
	)
	if err := s.Scan(&ss.ID, &ss.OrganizationID, &ss.WorkspaceID, &ss.Role, &ss.Type, &ss.Resource, &ss.ResourceID, &external,
		&origins, &scopes, &ss.LaunchPage, &ttl, &ss.TokenHash, &ss.TokenVersion, &ss.LaunchHash, &launchExpiresAt,
		&launchUsedAt, &ss.CreatedBy, &createdAt, &expiresAt, &refreshedAt, &revokedAt); err != nil {
		return nil, err
	}
	if external.Valid {
		ss.ExternalUserID = &external.String
	}
	if err := json.Unmarshal([]byte(origins), &ss.AllowedOrigins); err != nil {
		return nil, fmt.Errorf("decoding session origins: %w", err)
	}
	if err := json.Unmarshal([]byte(scopes), &ss.Scopes); err != nil {
		return nil, fmt.Errorf("decoding session scopes: %w", err)
	}
	if len(ss.AllowedOrigins) == 0 {
		ss.AllowedOrigins = nil
	}
	if len(ss.Scopes) == 0 {
		ss.Scopes = nil
	}
	ss.TTL = time.Duration(ttl) * time.Second
	ss.LaunchExpiresAt, ss.CreatedAt, ss.ExpiresAt = fromMicros(launchExpiresAt), fromMicros(createdAt), fromMicros(expiresAt)
	ss.LaunchUsedAt, ss.RefreshedAt, ss.RevokedAt = timePtr(launchUsedAt), timePtr(refreshedAt), timePtr(revokedAt)
	return &ss, nil
}

// jsonList encodes a list of strings as a JSON array, [] for none.
func jsonList(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding session list: %w", err)
	}
	return string(b), nil
}

// SessionInsert stores a new session.
func (db *DB) SessionInsert(ctx context.Context, p store.SessionInsertParams) error {
	s := p.Session
	origins, err := jsonList(s.AllowedOrigins)
	if err != nil {
		return err
	}
	scopes, err := jsonList(s.Scopes)
	if err != nil {
		return err
	}
	var external any
	if s.ExternalUserID != nil {
		external = *s.ExternalUserID
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		s.ID, s.OrganizationID, s.WorkspaceID, s.Role, s.Type, s.Resource, s.ResourceID, external, origins, scopes,
		s.LaunchPage, int64(s.TTL/time.Second), s.TokenHash, s.TokenVersion, s.LaunchHash, micros(s.LaunchExpiresAt),
		nullMicros(s.LaunchUsedAt), s.CreatedBy, micros(s.CreatedAt), micros(s.ExpiresAt), nullMicros(s.RefreshedAt),
		nullMicros(s.RevokedAt))
	return db.insertErr("session", err)
}

// SessionGet returns one session of the organization.
func (db *DB) SessionGet(ctx context.Context, p store.SessionGetParams) (*store.Session, error) {
	s, err := scanSession(db.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1 AND organization_id = $2`,
		p.ID, p.OrganizationID))
	if err != nil {
		return nil, notFound("session", err)
	}
	return s, nil
}

// SessionList lists a workspace's sessions, newest first.
func (db *DB) SessionList(ctx context.Context, p store.SessionListParams) (*store.Page[*store.Session], error) {
	var w where
	w.eq("organization_id", p.OrganizationID)
	w.eq("workspace_id", p.WorkspaceID)
	w.inIf("workspace_id", p.Workspaces)
	switch p.Status {
	case store.SessionActive:
		w.conds = append(w.conds, "revoked_at IS NULL")
	case store.SessionRevoked:
		w.conds = append(w.conds, "revoked_at IS NOT NULL")
	case "":
	default:
		return nil, fmt.Errorf("listing sessions: unknown status %q", p.Status)
	}
	w.eqIf("resource", p.Resource)
	w.eqIf("resource_id", p.ResourceID)
	return listWhere(ctx, db.r, "sessions", sessionCols, "created_at", w, p.ListParams, scanSession,
		func(s *store.Session) (time.Time, uuid.UUID) { return s.CreatedAt, s.ID })
}

// SessionRefresh compare-and-swaps a live session's access token on its version.
func (db *DB) SessionRefresh(ctx context.Context, p store.SessionRefreshParams) (*store.Session, error) {
	s, err := scanSession(db.w.QueryRowContext(ctx, `UPDATE sessions
		SET token_hash = $1, token_version = token_version + 1, expires_at = $2, refreshed_at = $3
		WHERE id = $4 AND organization_id = $5 AND token_version = $6 AND revoked_at IS NULL AND expires_at > $3
		RETURNING `+sessionCols, p.TokenHash, micros(p.ExpiresAt), micros(p.Now), p.ID, p.OrganizationID, p.ExpectedVersion))
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := db.SessionGet(ctx, store.SessionGetParams{OrganizationID: p.OrganizationID, ID: p.ID}); gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("session changed since token version %d, or is revoked or expired: %w", p.ExpectedVersion, store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("refreshing session: %w", err)
	}
	return s, nil
}

// SessionRevoke revokes a session, keeping the first revocation time of a revoked one.
func (db *DB) SessionRevoke(ctx context.Context, p store.SessionRevokeParams) (*store.Session, error) {
	s, err := scanSession(db.w.QueryRowContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 AND organization_id = $3 RETURNING `+sessionCols, micros(p.Now), p.ID, p.OrganizationID))
	if err != nil {
		return nil, notFound("session", err)
	}
	return s, nil
}

// SessionTakeLaunch marks a launch token used, once, within its expiry, on a live session.
func (db *DB) SessionTakeLaunch(ctx context.Context, p store.SessionTakeLaunchParams) (*store.Session, error) {
	s, err := scanSession(db.w.QueryRowContext(ctx, `UPDATE sessions SET launch_used_at = $1
		WHERE launch_hash = $2 AND launch_used_at IS NULL AND launch_expires_at > $1 AND revoked_at IS NULL AND expires_at > $1
		RETURNING `+sessionCols, micros(p.Now), p.LaunchHash))
	if err != nil {
		return nil, notFound("launch token", err)
	}
	return s, nil
}
