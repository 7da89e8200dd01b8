package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"

	"github.com/tars-engine/tars/internal/hostcheck"
)

// webUI is the Temporal Web UI server, in this process, talking gRPC to the
// frontend.
type webUI struct {
	server *uiserver.Server
	guard  *http.Server // the listener users reach: checks Host, proxies to server
	url    string
	done   chan struct{} // closed when the server's Start returns
	client *http.Client
}

// startUI starts serving the UI in the background; check reports when it
// answers.
//
// The UI server offers no way to hand it a listener, and its Start blocks and
// exits the process (through its logger's Fatal) if the port cannot be bound.
// planLayout's check just before makes that a race with another process
// taking the port in the same few milliseconds.
//
// The UI server answers any Host header, so a web page that rebinds its DNS
// name to 127.0.0.1 could read runs through it. It listens on loopback on a
// port of its own; users reach it through a proxy on uiIP:ui that answers
// only Host headers naming localhost or an address of the server.
func startUI(l layout, namespace, codecEndpoint string, logger *slog.Logger) (*webUI, error) {
	cfg := &uiconfig.Config{
		Host:                internalIP,
		Port:                l.uiBackend,
		TemporalGRPCAddress: l.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// No calls to temporal.io from the dev tool's UI.
		DisableNewsFetch: true,
		// Plain HTTP on loopback: a Secure cookie would never come back.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
		Codec:    uiconfig.Codec{Endpoint: codecEndpoint},
	}
	u := &webUI{
		server: uiserver.NewServer(uioptions.WithConfigProvider(cfg)),
		url:    l.uiAddr,
		done:   make(chan struct{}),
		client: &http.Client{Timeout: 2 * time.Second},
	}
	go func() {
		defer close(u.done)
		if err := u.server.Start(); err != nil {
			logger.Error("Web UI stopped", "error", err)
		}
	}()
	ln, err := net.Listen("tcp", net.JoinHostPort(l.uiIP, strconv.Itoa(l.ui)))
	if err != nil {
		u.server.Stop()
		return nil, fmt.Errorf("listening for the Web UI: %w", err)
	}
	backend := &url.URL{Scheme: "http", Host: dialAddr(internalIP, l.uiBackend)}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(backend)
		pr.Out.Host = pr.In.Host // the UI builds its links and cookies from it
		pr.SetXForwarded()
	}}
	allowed := hostcheck.Allowed(l.uiIP, nil)
	u.guard = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r.Host) {
			http.Error(w, "host "+r.Host+" is not one this server answers to", http.StatusMisdirectedRequest)
			return
		}
		if opsPaths[strings.TrimSuffix(r.URL.Path, "/")] {
			opsNotHere(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() {
		if err := u.guard.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Web UI proxy stopped", "error", err)
		}
	}()
	return u, nil
}

// opsPaths are what a Prometheus scraper or a Kubernetes probe asks of a
// port it is pointed at. The Web UI is a single-page app that answers any
// unknown path 200 with its HTML, which a scraper would take for an empty
// but healthy target and a probe for a ready one; these get a plain-text
// 404 that says where the real endpoints are. (The UI's own /healthz stays:
// it is what check polls.)
var opsPaths = map[string]bool{"/metrics": true, "/livez": true, "/readyz": true}

func opsNotHere(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "404: %s is not served on the Temporal Web UI port.\n"+
		"tars dev and tars worker serve Prometheus /metrics, /livez and /readyz on the address given with --metrics-addr,\n"+
		"e.g. tars dev --metrics-addr 127.0.0.1:9090, then scrape http://127.0.0.1:9090/metrics.\n", r.URL.Path)
}

// check succeeds once the UI's health endpoint answers 200.
func (u *webUI) check(ctx context.Context) error {
	return httpOK(ctx, u.client, u.url+"/healthz")
}

// stop closes the UI's listener and waits for its server to return.
func (u *webUI) stop() error {
	if u.guard != nil {
		_ = u.guard.Close()
	}
	u.server.Stop()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
	}
	u.client.CloseIdleConnections()
	return nil
}
