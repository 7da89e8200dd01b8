package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health is a worker process's liveness and readiness, for /livez and
// /readyz. A process is live while it answers at all; it is ready from
// SetReady(true) (its workers are polling) until Drain (a stop signal came:
// it polls no more and is finishing the calls it has).
type Health struct {
	ready    atomic.Bool
	draining atomic.Bool
}

// SetReady marks the process ready (or not) to take work.
func (h *Health) SetReady(ok bool) { h.ready.Store(ok) }

// Drain marks the process as stopping: not ready from now on.
func (h *Health) Drain() { h.draining.Store(true) }

// Ready reports whether the process takes work now, and if not, why.
func (h *Health) Ready() (bool, string) {
	switch {
	case h.draining.Load():
		return false, "draining: finishing running calls before exit"
	case !h.ready.Load():
		return false, "starting: workers not polling yet"
	}
	return true, "ok"
}

// NewOpsHandler serves the operator's endpoints: /metrics (Prometheus text
// or protobuf exposition of m), /livez and /readyz (200 "ok", or 503 with
// the reason). Either argument may be nil; its endpoints then answer 404.
func NewOpsHandler(m *Metrics, h *Health) http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.Gatherer(), promhttp.HandlerOpts{
			// A source that fails (the embedded server's registry during
			// shutdown) must not hide the others.
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	if h != nil {
		mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			ok, why := h.Ready()
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			fmt.Fprintln(w, why)
		})
	}
	return mux
}

// OpsServer is the HTTP listener of NewOpsHandler.
type OpsServer struct {
	srv  *http.Server
	addr string
}

// ServeOps listens on addr (host:port; port 0 picks one) and serves
// NewOpsHandler(m, h) until Close. It fails at once when addr is taken.
func ServeOps(addr string, m *Metrics, h *Health, log *slog.Logger) (*OpsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	s := &OpsServer{
		srv:  &http.Server{Handler: NewOpsHandler(m, h), ReadHeaderTimeout: 5 * time.Second},
		addr: l.Addr().String(),
	}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error("metrics endpoint stopped", "addr", s.addr, "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on, with the port it picked.
func (s *OpsServer) Addr() string { return s.addr }

// Close stops the listener, letting a scrape in progress finish for up to
// a second.
func (s *OpsServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
