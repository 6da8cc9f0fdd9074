package sqlstore

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Times are stored as integer microseconds since the epoch, UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// microsPtr is t as the database keeps it: to the microsecond, in UTC (nil stays nil).
func microsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	at := fromMicros(micros(*t))
	return &at
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func stringPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func marshalMetadata(m map[string]any) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding metadata: %w", err)
	}
	return string(b), nil
}

// unmarshalMetadata decodes stored metadata; numbers are float64, as encoding/json gives them.
// A number no float64 holds (beyond ±1.8e308) is kept as the json.Number it is: the API refuses
// one now, but an older version stored them, and a row that could not be read failed every list
// it was on and every claim that met its deliveries (docs/architecture.md, "Metadata numbers are
// float64").
func unmarshalMetadata(s string) (map[string]any, error) {
	m := map[string]any{}
	if err := json.Unmarshal([]byte(s), &m); err == nil {
		return m, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	m = map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding metadata: %w", err)
	}
	destination.FloatNumbers(m) // the ones out of range stay json.Number
	return m, nil
}

// placeholders returns "$from, $from+1, …" for n values: the IN lists of batched statements.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// A cursor points just past the last row of a page, which is ordered newest first by
// (created_at, id). New rows sort before it, so a cursor stays valid under concurrent inserts.
type cursor struct {
	createdAt int64
	id        uuid.UUID
}

func encodeCursor(createdAt time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(micros(createdAt), 10) + "." + id.String()))
}

func decodeCursor(s string) (*cursor, error) {
	invalid := &switchyard.Error{Code: switchyard.EINVALID, Message: "Invalid cursor.",
		Fields: []switchyard.FieldError{{Param: "cursor", Msg: "is not a cursor returned by this API"}}}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid
	}
	at, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil, invalid
	}
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return nil, invalid
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, invalid
	}
	return &cursor{createdAt: n, id: u}, nil
}
