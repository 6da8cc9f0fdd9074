package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// --- connection credentials (managed OAuth) ---

const credentialCols = `connection_id, organization_id, sealed, account, version, created_at, updated_at`

func scanCredential(s scanner) (*switchyard.Credential, error) {
	var (
		c                    switchyard.Credential
		createdAt, updatedAt int64
	)
	if err := s.Scan(&c.ConnectionID, &c.OrganizationID, &c.Sealed, &c.Account, &c.Version, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &c, nil
}

// CredentialGet returns a connection's credential. It reads through the writer: a node that
// lost a compare-and-swap must see the winner's token at once, not a replica's older one.
func (db *DB) CredentialGet(ctx context.Context, p store.CredentialGetParams) (*switchyard.Credential, error) {
	c, err := scanCredential(db.w.QueryRowContext(ctx,
		`SELECT `+credentialCols+` FROM connection_credentials WHERE connection_id = $1`, p.ConnectionID))
	if err != nil {
		return nil, notFound("credential", err)
	}
	return c, nil
}

// CredentialUpdate compare-and-swaps a connection's credential on its version.
func (db *DB) CredentialUpdate(ctx context.Context, p store.CredentialUpdateParams) (*switchyard.Credential, error) {
	c, err := scanCredential(db.w.QueryRowContext(ctx, `UPDATE connection_credentials
		SET sealed = $1, version = version + 1, updated_at = $2
		WHERE connection_id = $3 AND version = $4
		RETURNING `+credentialCols, p.Sealed, micros(p.Now), p.ConnectionID, p.ExpectedVersion))
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := db.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: p.ConnectionID}); gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("credential changed since version %d: %w", p.ExpectedVersion, store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("updating credential: %w", err)
	}
	return c, nil
}

// ConnectionAuthorize inserts a connection with its credential, or replaces an existing
// connection's credential and reactivates the connection. A replaced credential's version moves
// to the next odd number: odd versions are idle (see internal/oauth), so a refresh under way
// elsewhere loses its compare-and-swap and nobody waits for it.
func (db *DB) ConnectionAuthorize(ctx context.Context, p store.ConnectionAuthorizeParams) (*switchyard.Connection, error) {
	var out *switchyard.Connection
	err := db.tx(ctx, func(tx *sql.Tx) error {
		id := p.ExistingID
		if p.Connection != nil {
			c := p.Connection
			meta, err := marshalMetadata(c.Metadata)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				c.ID, c.OrganizationID, c.WorkspaceID, c.Type, c.Name, meta, c.Active, c.InactiveReason, c.Hidden, c.CreatedBy,
				micros(c.CreatedAt), micros(c.UpdatedAt)); err != nil {
				return db.insertErr("connection", err)
			}
			id = c.ID
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE connections SET active = TRUE, inactive_reason = '', updated_at = $1
				WHERE id = $2 AND organization_id = $3`, micros(p.Now), id, p.OrganizationID)
			if err != nil {
				return fmt.Errorf("reactivating connection: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("connection %s: %w", id, store.ErrNotFound)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_credentials (`+credentialCols+`)
			VALUES ($1, $2, $3, $4, 1, $5, $5)
			ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed, account = excluded.account,
				version = connection_credentials.version + 1 + connection_credentials.version % 2, updated_at = excluded.updated_at`,
			id, p.OrganizationID, p.Sealed, destination.CleanText(p.Account), micros(p.Now)); err != nil {
			return fmt.Errorf("storing credential: %w", err)
		}
		c, err := scanConnection(tx.QueryRowContext(ctx, `SELECT `+connectionCols+` FROM connections WHERE id = $1`, id))
		if err != nil {
			return fmt.Errorf("reading connection: %w", err)
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- OAuth states ---

const oauthStateCols = `state_hash, organization_id, workspace_id, integration_type, name, redirect_url, verifier_sealed,
	connection_id, created_by, created_at, expires_at, used_at`

// OAuthStateInsert stores a started flow and deletes the ones that expired.
func (db *DB) OAuthStateInsert(ctx context.Context, st *switchyard.OAuthState) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < $1`, micros(st.CreatedAt)); err != nil {
			return fmt.Errorf("deleting expired OAuth states: %w", err)
		}
		var conn any
		if st.ConnectionID != nil {
			conn = *st.ConnectionID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_states (`+oauthStateCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)`,
			st.StateHash, st.OrganizationID, st.WorkspaceID, st.IntegrationType, st.Name, st.RedirectURL, st.VerifierSealed,
			conn, st.CreatedBy, micros(st.CreatedAt), micros(st.ExpiresAt))
		return db.insertErr("OAuth state", err)
	})
}

// OAuthStateTake marks a state used, once, within its expiry.
func (db *DB) OAuthStateTake(ctx context.Context, p store.OAuthStateTakeParams) (*switchyard.OAuthState, error) {
	var (
		st                   switchyard.OAuthState
		conn                 uuid.NullUUID
		createdAt, expiresAt int64
		usedAt               sql.NullInt64
	)
	err := db.w.QueryRowContext(ctx, `UPDATE oauth_states SET used_at = $1
		WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING `+oauthStateCols, micros(p.Now), p.StateHash).Scan(&st.StateHash, &st.OrganizationID, &st.WorkspaceID,
		&st.IntegrationType, &st.Name, &st.RedirectURL, &st.VerifierSealed, &conn, &st.CreatedBy, &createdAt, &expiresAt, &usedAt)
	if err != nil {
		return nil, notFound("OAuth state", err)
	}
	if conn.Valid {
		st.ConnectionID = &conn.UUID
	}
	st.CreatedAt, st.ExpiresAt = fromMicros(createdAt), fromMicros(expiresAt)
	if usedAt.Valid {
		t := fromMicros(usedAt.Int64)
		st.UsedAt = &t
	}
	return &st, nil
}
