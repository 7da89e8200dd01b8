package devserver

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/tars-engine/tars/internal/hostcheck"
)

// startHTTPAPI serves the frontend's HTTP API behind a guard. The server's
// own HTTP listener checks nothing but the Host header, and takes a POST
// whatever its Content-Type: a page in any browser on this machine could
// start, signal or terminate workflows with a "simple" cross-origin request,
// or read runs after rebinding its DNS name to 127.0.0.1. So the server
// answers only a random Host name (frontend.httpAllowedHosts), which only
// this guard sets, and the guard answers only:
//   - Host headers naming localhost or an address of the server (421);
//   - requests with no Origin or their own origin (403);
//   - state changes (anything but GET, HEAD) sent as application/json (415),
//     which a browser sends cross-origin only after a CORS preflight that
//     gets no CORS answer.
func startHTTPAPI(l layout, logger *slog.Logger) (*http.Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(l.ip, strconv.Itoa(l.httpAPI)))
	if err != nil {
		return nil, fmt.Errorf("HTTP API: %w", err)
	}
	target := &url.URL{Scheme: "http", Host: l.frontendHTTPAddr}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = l.httpHostToken
	}}
	srv := &http.Server{Handler: guardHTTPAPI(l.ip, proxy), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP API stopped", "error", err)
		}
	}()
	return srv, nil
}

func guardHTTPAPI(ip string, next http.Handler) http.Handler {
	allowed := hostcheck.Allowed(ip, nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !allowed(r.Host):
			http.Error(w, "host "+r.Host+" is not one this server answers to", http.StatusMisdirectedRequest)
			return
		case !hostcheck.SameOrigin(r.Header.Get("Origin"), r.Host):
			http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				http.Error(w, "state changes are taken only as application/json", http.StatusUnsupportedMediaType)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
