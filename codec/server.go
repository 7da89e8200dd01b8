package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure Handler.
type ServerOptions struct {
	// Origins are the browser origins allowed to call the server, each
	// scheme://host[:port] as the browser sends it (the Web UI's, e.g.
	// "http://localhost:8233"). A request with another Origin header is
	// refused; requests without one (CLIs, SDKs) are not affected.
	Origins []string

	// Auth, when set, is the Authorization header value every encode and
	// decode must carry, e.g. "Bearer <token>" (what temporal and tars send
	// with --codec-auth). Compared in constant time.
	Auth string

	// Namespaces, when set, are the only X-Namespace values answered.
	Namespaces []string

	// MaxBodyBytes caps a request's body; default 16 MiB.
	MaxBodyBytes int64
}

// Handler serves Temporal's codec server protocol with pc: POST .../encode
// and .../decode take {"payloads": [...]} in proto JSON and answer the same
// shape. It answers the Web UI's CORS preflight (OPTIONS) for the Origins,
// allowing the headers the UI sends (X-Namespace, Content-Type,
// Authorization) and credentials. GET /healthz answers 200.
//
// A decode of a payload under a key pc does not hold fails (400, naming the
// key id); nothing of the payload is returned.
func Handler(pc converter.PayloadCodec, o ServerOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	codec := converter.NewPayloadCodecHTTPHandler(pc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Add("Vary", "Origin")
			if !slices.Contains(o.Origins, origin) {
				http.Error(w, "origin "+origin+" is not allowed (tars codec-server --ui-origin)", http.StatusForbidden)
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "X-Namespace, Content-Type, Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost || !(strings.HasSuffix(r.URL.Path, "/encode") || strings.HasSuffix(r.URL.Path, "/decode")) {
			http.Error(w, "not found: POST /encode or /decode", http.StatusNotFound)
			return
		}
		if o.Auth != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(o.Auth)) != 1 {
			http.Error(w, "unauthorized: send the Authorization header this server was started with", http.StatusUnauthorized)
			return
		}
		if ns := r.Header.Get("X-Namespace"); len(o.Namespaces) > 0 && !slices.Contains(o.Namespaces, ns) {
			http.Error(w, "namespace "+ns+" is not served here (X-Namespace)", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		codec.ServeHTTP(w, r)
	})
}
