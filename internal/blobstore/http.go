package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Handler serves b over HTTP: GET and PUT /blobs/<key>. A PUT whose body
// does not hash to its key is refused, so the store stays content-addressed
// whoever writes to it. Requests from a browser page (an Origin header) are
// refused: the store holds run data and is meant for the tars processes of
// one machine.
func Handler(b Backend, maxBlob int) http.Handler {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlob
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, "/blobs/")
		if !ok || !ValidKey(key) {
			http.Error(w, "want /blobs/<sha256>", http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet:
			data, err := b.Get(r.Context(), key)
			if errors.Is(err, ErrNotFound) {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(data)
		case http.MethodPut:
			data, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBlob)+1))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if len(data) > maxBlob {
				http.Error(w, fmt.Sprintf("blob over the store's %s limit", FormatSize(int64(maxBlob))), http.StatusRequestEntityTooLarge)
				return
			}
			if Key(data) != key {
				http.Error(w, "body does not hash to the key", http.StatusBadRequest)
				return
			}
			if err := b.Put(r.Context(), key, data); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// Server serves a Backend over HTTP on a loopback address.
type Server struct {
	srv *http.Server
	url string
}

// Serve serves b on addr (host:port; port 0 picks a free one) until Close.
func Serve(addr string, b Backend, maxBlob int) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	s := &Server{
		srv: &http.Server{Handler: Handler(b, maxBlob), ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + l.Addr().String(),
	}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// URL is the server's base URL, http://host:port.
func (s *Server) URL() string { return s.url }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// HTTP is a Backend that reaches a store served by Handler, e.g. the one of
// the tars dev on this machine.
type HTTP struct {
	base   string
	client *http.Client
}

// NewHTTP returns a backend for the store at base (http://host:port).
func NewHTTP(base string) *HTTP {
	return &HTTP{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 5 * time.Minute}}
}

// Put implements Backend.
func (h *HTTP) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, h.base+"/blobs/"+key, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("blob store %s: %w", h.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("blob store %s: put %s: %s: %s", h.base, key, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Get implements Backend.
func (h *HTTP) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/blobs/"+key, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", h.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s (blob store %s)", ErrNotFound, key, h.base)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("blob store %s: get %s: %s: %s", h.base, key, resp.Status, strings.TrimSpace(string(msg)))
	}
	return io.ReadAll(resp.Body)
}
