package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// globals are the settings every command shares. Precedence: flags, then
// environment, then the YAML config file, then defaults.
type globals struct {
	configFile  string
	address     string
	namespace   string
	queuePrefix string
	uiURL       string
	configsDir  string
	modulesDir  string
	guestsDir   string
	tls         bool
	tlsCert     string
	tlsKey      string
	tlsCA       string
	tlsServer   string
	apiKey      string
	logLevel    string
	logFormat   string
	// metrics, when set, receives the SDK's client and worker metrics of
	// every client dial makes (tars dev and tars worker with --metrics-addr).
	metrics *workers.Metrics
}

// fileConfig is the YAML config file's shape.
type fileConfig struct {
	Address     string `yaml:"address"`
	Namespace   string `yaml:"namespace"`
	QueuePrefix string `yaml:"queue_prefix"`
	UI          string `yaml:"ui"`
	Configs     string `yaml:"configs"`
	Modules     string `yaml:"modules"`
	Guests      string `yaml:"guests"`
	APIKey      string `yaml:"api_key"`
	TLS         *struct {
		Cert       string `yaml:"cert"`
		Key        string `yaml:"key"`
		CA         string `yaml:"ca"`
		ServerName string `yaml:"server_name"`
	} `yaml:"tls"`
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.configFile, "config", "", "YAML config file (env TARS_CONFIG)")
	f.StringVar(&g.address, "address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)")
	f.StringVarP(&g.namespace, "namespace", "n", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
	f.StringVar(&g.queuePrefix, "queue-prefix", "", "task queue prefix: <prefix>.workflows, <prefix>.<runtime> (env TARS_QUEUE_PREFIX; default \"tars\")")
	f.StringVar(&g.uiURL, "ui", "", "Web UI base URL for links (env TARS_UI; default http://127.0.0.1:8233)")
	f.StringVar(&g.configsDir, "configs", "", "directory with agents.yaml, agent-tree.yaml, deployment.yaml (env TARS_CONFIGS; default: the built-in tree)")
	f.StringVar(&g.modulesDir, "modules", "", "WASM modules directory (env TARS_MODULES; default activities/wasm/guests/bin when present)")
	f.StringVar(&g.guestsDir, "guests", "", "hyperlight guests directory (env TARS_GUESTS; default activities/hyperlight/guests/bin when present)")
	f.BoolVar(&g.tls, "tls", false, "use TLS (env TEMPORAL_TLS)")
	f.StringVar(&g.tlsCert, "tls-cert-path", "", "client certificate (env TEMPORAL_TLS_CLIENT_CERT_PATH)")
	f.StringVar(&g.tlsKey, "tls-key-path", "", "client key (env TEMPORAL_TLS_CLIENT_KEY_PATH)")
	f.StringVar(&g.tlsCA, "tls-ca-path", "", "server CA certificate (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
	f.StringVar(&g.tlsServer, "tls-server-name", "", "server name for TLS (env TEMPORAL_TLS_SERVER_NAME)")
	f.StringVar(&g.apiKey, "api-key", "", "API key (env TEMPORAL_API_KEY)")
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env TARS_LOG_LEVEL; default warn)")
	f.StringVar(&g.logFormat, "log-format", "", "text (key=value) or json (one object a line; lines about a step carry run_id, step and runtime) (env TARS_LOG_FORMAT; default text)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.resolve() }
}

// resolve fills unset values from the environment, the config file and
// defaults, in that order.
func (g *globals) resolve() error {
	pick := func(dst *string, env string, file string, def string) {
		if *dst != "" {
			return
		}
		if v := os.Getenv(env); v != "" {
			*dst = v
			return
		}
		if file != "" {
			*dst = file
			return
		}
		*dst = def
	}
	if g.configFile == "" {
		g.configFile = os.Getenv("TARS_CONFIG")
	}
	var fc fileConfig
	if g.configFile != "" {
		b, err := os.ReadFile(g.configFile)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil {
			return fmt.Errorf("%s: %w", g.configFile, err)
		}
	}
	pick(&g.address, "TEMPORAL_ADDRESS", fc.Address, "127.0.0.1:7233")
	pick(&g.namespace, "TEMPORAL_NAMESPACE", fc.Namespace, "default")
	pick(&g.queuePrefix, "TARS_QUEUE_PREFIX", fc.QueuePrefix, workflows.DefaultQueuePrefix)
	pick(&g.uiURL, "TARS_UI", fc.UI, "http://127.0.0.1:8233")
	pick(&g.configsDir, "TARS_CONFIGS", fc.Configs, "")
	pick(&g.modulesDir, "TARS_MODULES", fc.Modules, existing("activities/wasm/guests/bin"))
	pick(&g.guestsDir, "TARS_GUESTS", fc.Guests, existing("activities/hyperlight/guests/bin"))
	pick(&g.apiKey, "TEMPORAL_API_KEY", fc.APIKey, "")
	pick(&g.logLevel, "TARS_LOG_LEVEL", "", "warn")
	pick(&g.logFormat, "TARS_LOG_FORMAT", "", "text")
	if g.logFormat != "text" && g.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	if fc.TLS != nil {
		pick(&g.tlsCert, "TEMPORAL_TLS_CLIENT_CERT_PATH", fc.TLS.Cert, "")
		pick(&g.tlsKey, "TEMPORAL_TLS_CLIENT_KEY_PATH", fc.TLS.Key, "")
		pick(&g.tlsCA, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", fc.TLS.CA, "")
		pick(&g.tlsServer, "TEMPORAL_TLS_SERVER_NAME", fc.TLS.ServerName, "")
		g.tls = true
	} else {
		pick(&g.tlsCert, "TEMPORAL_TLS_CLIENT_CERT_PATH", "", "")
		pick(&g.tlsKey, "TEMPORAL_TLS_CLIENT_KEY_PATH", "", "")
		pick(&g.tlsCA, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "", "")
		pick(&g.tlsServer, "TEMPORAL_TLS_SERVER_NAME", "", "")
	}
	if v := os.Getenv("TEMPORAL_TLS"); v == "true" || v == "1" {
		g.tls = true
	}
	if g.tlsCert != "" || g.tlsCA != "" {
		g.tls = true
	}
	return nil
}

func existing(dir string) string {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		abs, _ := filepath.Abs(dir)
		return abs
	}
	return ""
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(g.logLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if g.logFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(toolFailuresAsInfo{workers.StepAttrs(h)})
}

// toolFailuresAsInfo logs the SDK's "Activity error." records at Info: a
// tool that fails is the metascript's business (retries, on_error), shown
// in the run's state and history, not a fault of the worker.
type toolFailuresAsInfo struct{ slog.Handler }

func (h toolFailuresAsInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l) || l == slog.LevelError
}

func (h toolFailuresAsInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelError && r.Message == "Activity error." && !isControlActivity(r) {
		// The pool logs the same failure as "step call failed", with the
		// run, step and runtime this line lacks.
		return nil
	}
	if r.Level == slog.LevelError && r.Message == "Activity error." {
		if !h.Handler.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		r.Level = slog.LevelInfo
	}
	return h.Handler.Handle(ctx, r)
}

// isControlActivity reports whether an SDK activity record is about the
// interpreter's own control activity rather than a pool's tool call.
func isControlActivity(r slog.Record) bool {
	control := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "ActivityType" {
			control = a.Value.String() == workflows.PollersActivity
			return false
		}
		return true
	})
	return control
}

func (h toolFailuresAsInfo) WithAttrs(a []slog.Attr) slog.Handler {
	return toolFailuresAsInfo{h.Handler.WithAttrs(a)}
}

func (h toolFailuresAsInfo) WithGroup(n string) slog.Handler {
	return toolFailuresAsInfo{h.Handler.WithGroup(n)}
}

// dial connects to the server, failing within 5 s with the address named.
func (g *globals) dial(ctx context.Context) (client.Client, error) {
	opts := client.Options{
		HostPort:  g.address,
		Namespace: g.namespace,
		Logger:    tlog.NewStructuredLogger(g.logger()),
	}
	if g.metrics != nil {
		opts.MetricsHandler = g.metrics.SDKHandler()
	}
	if g.apiKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(g.apiKey)
	}
	if isLoopback(g.address) {
		// The SDK gzips every request and asks for gzipped answers. On
		// loopback (tars dev, or a worker beside its server) that is CPU
		// spent on both ends to save nothing: measured 4-10% of a step's
		// cost in tars bench (docs/performance.md).
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if g.tls {
		tc := &tls.Config{ServerName: g.tlsServer, MinVersion: tls.VersionTLS12}
		if g.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(g.tlsCert, g.tlsKey)
			if err != nil {
				return nil, fmt.Errorf("TLS client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if g.tlsCA != "" {
			pem, err := os.ReadFile(g.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("TLS CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("TLS CA %s: no certificates found", g.tlsCA)
			}
			tc.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tc
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w — is `tars dev` running? set --address or TEMPORAL_ADDRESS", g.address, g.namespace, err)
	}
	return c, nil
}

// isLoopback reports whether host:port names this machine by a loopback
// address or "localhost".
func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (g *globals) runLink(id string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(g.uiURL, "/"), g.namespace, id)
}
