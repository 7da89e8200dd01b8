package devserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// webUI is the Temporal Web UI server, in this process, talking gRPC to the
// frontend.
type webUI struct {
	server *uiserver.Server
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
func startUI(l layout, namespace string, logger *slog.Logger) *webUI {
	host := l.uiIP
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]" // the UI server joins host and port with a colon
	}
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                l.ui,
		TemporalGRPCAddress: l.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// No calls to temporal.io from the dev tool's UI.
		DisableNewsFetch: true,
		// Plain HTTP on loopback: a Secure cookie would never come back.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
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
	return u
}

// check succeeds once the UI's health endpoint answers 200.
func (u *webUI) check(ctx context.Context) error {
	return httpOK(ctx, u.client, u.url+"/healthz")
}

// stop closes the UI's listener and waits for its server to return.
func (u *webUI) stop() error {
	u.server.Stop()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
	}
	u.client.CloseIdleConnections()
	return nil
}
