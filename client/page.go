package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list: the API's pagination envelope.
type Page[T any] struct {
	// Count is the number of records in this page.
	Count int `json:"count"`
	// Limit is the page size the server applied.
	Limit int `json:"limit"`
	// NextCursor fetches the next page (ListOptions.Cursor); nil on the last page.
	NextCursor *string `json:"next_cursor"`
	Records    []T     `json:"records"`
}

// ListOptions pages a list. The zero value (or nil) asks for the first page of the server's
// default size (50).
type ListOptions struct {
	// Limit is the page size, 1 to 200; 0 means the server's default.
	Limit int
	// Cursor is a page's NextCursor, to fetch the page after it; "" is the first page.
	Cursor string
}

func (o *ListOptions) values() url.Values {
	q := url.Values{}
	if o == nil {
		return q
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// pages walks every page from the one that fetch(cursor) returns for the starting cursor,
// yielding each record; it stops at the first error (yielded with a zero T) or when the caller
// stops. A server that handed back the cursor it was given would loop forever, so that is an
// error too.
func pages[T any](ctx context.Context, cursor string, fetch func(ctx context.Context, cursor string) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			p, err := fetch(ctx, cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, r := range p.Records {
				if !yield(r, nil) {
					return
				}
			}
			if p.NextCursor == nil || *p.NextCursor == "" {
				return
			}
			if *p.NextCursor == cursor {
				yield(zero, errRepeatedCursor)
				return
			}
			cursor = *p.NextCursor
		}
	}
}

// Collect gathers every record of an iterator such as Client.Workspaces into a slice, stopping
// at the first error (returned with the records gathered before it).
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for r, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// copyOpts returns a copy of *p (the zero value for nil), so an iterator can move its cursor
// without changing the caller's options.
func copyOpts[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
