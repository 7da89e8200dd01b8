package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// globals are the settings every command shares. Precedence, lowest
// first: defaults, the profile of Temporal's client configuration file
// (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml;
// --profile or TEMPORAL_PROFILE picks one), the TARS YAML config file,
// environment variables, flags.
type globals struct {
	configFile  string
	profile     string
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
	grpcMeta    []string
	logLevel    string
	logFormat   string
	// metrics, when set, receives the SDK's client and worker metrics of
	// every client dial makes (tars dev and tars worker with --metrics-addr).
	metrics *workers.Metrics
	// codec: payload encryption (cmd/tars/codec.go).
	codec codecFlags

	// store says where large values go (store.go).
	store storeFlags

	// conn is the resolved connection profile. dial uses it with address
	// and namespace, which a command may still change after resolve (tars
	// dev points them at its own server).
	conn envconfig.ClientConfigProfile

	// catFlags say which metascripts the catalogue holds; cat caches it
	// once compiled (catalogue.go).
	catFlags    catalogueFlags
	cat         *plan.Catalogue
	catWarnings []string
}

// fileConfig is the YAML config file's shape.
type fileConfig struct {
	Address     string            `yaml:"address"`
	Namespace   string            `yaml:"namespace"`
	QueuePrefix string            `yaml:"queue_prefix"`
	UI          string            `yaml:"ui"`
	Configs     string            `yaml:"configs"`
	Modules     string            `yaml:"modules"`
	Guests      string            `yaml:"guests"`
	Metascripts []string          `yaml:"metascripts"`
	APIKey      string            `yaml:"api_key"`
	GRPCMeta    map[string]string `yaml:"grpc_meta"`
	Codec       *fileCodec        `yaml:"codec"` // cmd/tars/codec.go
	Store       *storeConfig      `yaml:"store"`
	TLS         *struct {
		Cert       string `yaml:"cert"`
		Key        string `yaml:"key"`
		CA         string `yaml:"ca"`
		ServerName string `yaml:"server_name"`
	} `yaml:"tls"`
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.configFile, "config", "", "TARS YAML config file (env TARS_CONFIG)")
	f.StringVar(&g.profile, "profile", "", "profile of Temporal's client config file (env TEMPORAL_PROFILE; file: env TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)")
	f.StringVar(&g.address, "address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)")
	f.StringVarP(&g.namespace, "namespace", "n", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
	f.StringVar(&g.queuePrefix, "queue-prefix", "", "task queue prefix: <prefix>.workflows, <prefix>.<runtime> (env TARS_QUEUE_PREFIX; default \"tars\")")
	f.StringVar(&g.uiURL, "ui", "", "Web UI base URL for links (env TARS_UI; default: the UI of the tars dev serving --address, else http://HOST:PORT+1000 of --address)")
	f.StringVar(&g.configsDir, "configs", "", "directory with agents.yaml, agent-tree.yaml, deployment.yaml (env TARS_CONFIGS; default: the built-in tree)")
	f.StringVar(&g.modulesDir, "modules", "", "directory of WASM modules added to the built-in ones, overriding those of the same name; must exist (env TARS_MODULES; default activities/wasm/guests/bin when present)")
	f.StringVar(&g.guestsDir, "guests", "", "directory of hyperlight guests added to the built-in ones, overriding those of the same name; must exist (env TARS_GUESTS; default activities/hyperlight/guests/bin when present)")
	f.BoolVar(&g.tls, "tls", false, "use TLS (env TEMPORAL_TLS)")
	f.StringVar(&g.tlsCert, "tls-cert-path", "", "client certificate (env TEMPORAL_TLS_CLIENT_CERT_PATH)")
	f.StringVar(&g.tlsKey, "tls-key-path", "", "client key (env TEMPORAL_TLS_CLIENT_KEY_PATH)")
	f.StringVar(&g.tlsCA, "tls-ca-path", "", "server CA certificate (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
	f.StringVar(&g.tlsServer, "tls-server-name", "", "server name for TLS (env TEMPORAL_TLS_SERVER_NAME)")
	f.StringVar(&g.apiKey, "api-key", "", "API key (env TEMPORAL_API_KEY)")
	f.StringArrayVar(&g.grpcMeta, "grpc-meta", nil, "gRPC metadata sent with every request, KEY=VALUE (repeatable; env TEMPORAL_GRPC_META_<KEY>)")
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env TARS_LOG_LEVEL; default warn)")
	f.StringVar(&g.logFormat, "log-format", "", "text (key=value) or json (one object a line; lines about a step carry run_id, step and runtime) (env TARS_LOG_FORMAT; default text)")
	g.catFlags.register(root)
	g.codec.register(root)
	g.store.register(f)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		trace.Plans = g.planByDigest
		return g.resolve()
	}
}

// resolve fills unset values from the environment, the config files and
// defaults.
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
	if err := g.resolveConn(fc); err != nil {
		return err
	}
	g.catFlags.resolve(fc.Metascripts)
	pick(&g.queuePrefix, "TARS_QUEUE_PREFIX", fc.QueuePrefix, workflows.DefaultQueuePrefix)
	pick(&g.uiURL, "TARS_UI", fc.UI, "")
	pick(&g.configsDir, "TARS_CONFIGS", fc.Configs, "")
	pick(&g.modulesDir, "TARS_MODULES", fc.Modules, existing("activities/wasm/guests/bin"))
	pick(&g.guestsDir, "TARS_GUESTS", fc.Guests, existing("activities/hyperlight/guests/bin"))
	pick(&g.logLevel, "TARS_LOG_LEVEL", "", "warn")
	pick(&g.logFormat, "TARS_LOG_FORMAT", "", "text")
	if g.logFormat != "text" && g.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	g.traceResolves() // store.go
	return g.store.resolve(fc.Store)
}

// resolveConn layers the connection settings: the Temporal client config
// profile, the TARS config file, the environment, then flags.
func (g *globals) resolveConn(fc fileConfig) error {
	if g.profile == "" {
		g.profile = os.Getenv("TEMPORAL_PROFILE")
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFileProfile: g.profile,
		DisableEnv:        true, // applied below, above the TARS config file
	})
	if err != nil {
		file := os.Getenv("TEMPORAL_CONFIG_FILE")
		if file == "" {
			file = envconfig.DefaultConfigFilePath()
		}
		return fmt.Errorf("reading the Temporal client config %s: %w", file, err)
	}
	tlsOn := func() *envconfig.ClientConfigTLS {
		if prof.TLS == nil {
			prof.TLS = &envconfig.ClientConfigTLS{}
		}
		prof.TLS.Disabled = false
		return prof.TLS
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&prof.Address, fc.Address)
	set(&prof.Namespace, fc.Namespace)
	set(&prof.APIKey, fc.APIKey)
	for k, v := range fc.GRPCMeta {
		if prof.GRPCMeta == nil {
			prof.GRPCMeta = map[string]string{}
		}
		prof.GRPCMeta[envconfig.NormalizeGRPCMetaKey(k)] = v
	}
	if fc.TLS != nil {
		t := tlsOn()
		set(&t.ClientCertPath, fc.TLS.Cert)
		set(&t.ClientKeyPath, fc.TLS.Key)
		set(&t.ServerCACertPath, fc.TLS.CA)
		set(&t.ServerName, fc.TLS.ServerName)
	}
	if err := prof.ApplyEnvVars(envconfig.EnvLookupOS); err != nil {
		return err
	}
	set(&prof.Address, g.address)
	set(&prof.Namespace, g.namespace)
	set(&prof.APIKey, g.apiKey)
	if g.tls || g.tlsCert != "" || g.tlsKey != "" || g.tlsCA != "" || g.tlsServer != "" {
		t := tlsOn()
		set(&t.ClientCertPath, g.tlsCert)
		set(&t.ClientKeyPath, g.tlsKey)
		set(&t.ServerCACertPath, g.tlsCA)
		set(&t.ServerName, g.tlsServer)
	}
	for _, kv := range g.grpcMeta {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--grpc-meta %q: want KEY=VALUE", kv)
		}
		if prof.GRPCMeta == nil {
			prof.GRPCMeta = map[string]string{}
		}
		prof.GRPCMeta[envconfig.NormalizeGRPCMetaKey(strings.TrimSpace(k))] = v
	}
	g.codec.resolve(fc.Codec, &prof)
	if prof.Address == "" {
		prof.Address = "127.0.0.1:7233"
	}
	if prof.Namespace == "" {
		prof.Namespace = "default"
	}
	g.address, g.namespace, g.apiKey = prof.Address, prof.Namespace, prof.APIKey
	g.tls = prof.TLS != nil && !prof.TLS.Disabled
	g.conn = prof
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
	prof := g.conn
	prof.Address, prof.Namespace = g.address, g.namespace
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s: %w", g.address, err)
	}
	if g.metrics != nil {
		opts.MetricsHandler = g.metrics.SDKHandler()
	}
	opts.Logger = tlog.NewStructuredLogger(g.logger())
	pc, err := g.payloadCodec()
	if err != nil {
		return nil, err
	}
	applyCodec(&opts, pc)
	if opts.ExternalStorage, err = g.externalStorage(ctx); err != nil {
		return nil, fmt.Errorf("external storage: %w", err)
	}
	if isLoopback(g.address) {
		// The SDK gzips every request and asks for gzipped answers. On
		// loopback (tars dev, or a worker beside its server) that is CPU
		// spent on both ends to save nothing: measured 4-10% of a step's
		// cost in tars bench (docs/performance.md).
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w — is `tars dev` running? set --address or TEMPORAL_ADDRESS", g.address, g.namespace, err)
	}
	return c, nil
}

// withClient dials, runs fn with the client and closes it: the preamble of
// every command that talks to the server.
func (g *globals) withClient(ctx context.Context, fn func(client.Client) error) error {
	c, err := g.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
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
