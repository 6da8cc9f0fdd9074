package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ReceiveCmd is a development webhook receiver: it answers 200 and prints each request.
type ReceiveCmd struct {
	Addr string `name:"addr" default:"127.0.0.1:9000" help:"Listen address."`
}

// Run serves until signaled.
func (c *ReceiveCmd) Run(e *env) error {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	fmt.Fprintf(e.stdout, "Receiving webhooks at http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	var mu sync.Mutex
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Meshes-") || strings.HasPrefix(k, "Webhook-") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		mu.Lock()
		fmt.Fprintf(e.stdout, "%s %s %s\n", time.Now().Format(time.RFC3339), r.Method, r.URL.Path)
		for _, k := range names {
			fmt.Fprintf(e.stdout, "  %s: %s\n", k, r.Header.Get(k))
		}
		fmt.Fprintf(e.stdout, "  %s\n", body)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		<-e.ctx.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
