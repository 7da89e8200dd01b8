package devserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"

	"go.temporal.io/api/enums/v1"
)

// Defaults. Ports are the exception to "zero means default": a zero port
// means "pick a free one" (what tests want), so a command line that wants the
// well-known ports passes DefaultPort and DefaultUIPort explicitly.
const (
	DefaultIP        = "127.0.0.1"
	DefaultPort      = 7233 // Temporal's usual frontend port
	DefaultUIPort    = 8233 // Temporal's usual UI port
	DefaultNamespace = "default"
	DefaultLogLevel  = "warn"
)

// NoUI as Options.UIPort starts no Web UI.
const NoUI = -1

// AnyHTTPPort as Options.HTTPPort serves the HTTP API on a free port.
const AnyHTTPPort = -1

// Options configures Start. The zero value is usable: SQLite in memory, gRPC
// and UI on free ports of 127.0.0.1, namespace "default", Temporal's own
// dynamic config (set Tuned for TARS's).
type Options struct {
	IP   string // address the frontend listens on; default "127.0.0.1" ("localhost" means that too)
	Port int    // frontend gRPC port, usually DefaultPort (7233); 0 picks a free port

	UIPort int    // Web UI port, usually DefaultUIPort (8233); 0 picks a free port; NoUI (-1): no UI
	UIIP   string // address the UI listens on; default IP

	// UICodecEndpoint points the Web UI at a codec server (tars
	// codec-server): the browser sends payloads there to show them decoded.
	// "" shows payloads as stored. Must be an http(s) URL; the codec server
	// must allow the UI's origin (CORS).
	UICodecEndpoint string

	// HTTPPort serves the frontend's HTTP API (Temporal's REST mapping of
	// the gRPC API) on IP: 0 (the default) serves none, AnyHTTPPort a free
	// port. It answers only requests naming localhost or an address of the
	// server in their Host header, refuses cross-origin browser requests
	// (an Origin other than its own), and takes state changes only as
	// application/json, so a web page cannot drive it.
	HTTPPort int

	// DBFile is the SQLite database. "" keeps it in memory, gone when the
	// server stops. A path persists workflows across restarts: the schema is
	// created when the file does not exist yet or is empty; the directory must
	// exist. One server per file.
	DBFile string

	Namespace       string   // default "default"; created at start if missing
	ExtraNamespaces []string // also created at start if missing

	// SearchAttributes are registered in every namespace at start, e.g.
	// "TarsMetascript": enums.INDEXED_VALUE_TYPE_KEYWORD. Attributes that
	// already exist are left alone, so restarting with a DBFile is fine.
	SearchAttributes map[string]enums.IndexedValueType

	// LogLevel filters the server's logs: "debug", "info", "warn" (default)
	// or "error". The server is chatty below warn.
	LogLevel string
	Logger   *slog.Logger // receives the server's logs; default slog.Default()

	// DynamicConfig overrides server settings by key, over TunedDynamicConfig
	// when Tuned is set and over Temporal's defaults otherwise. Values are Go
	// values: int, float64, bool, string, time.Duration. Unknown keys and
	// values the server cannot convert make Start fail.
	DynamicConfig map[string]any

	// Metrics makes the server expose its own Prometheus metrics (Temporal's
	// server series: service_requests, persistence_latency, ...) on a free
	// port of 127.0.0.1; Server.MetricsURL says where. tars dev serves them
	// again beside the workers' on its --metrics-addr.
	Metrics bool

	// Tuned applies TunedDynamicConfig, and for a DBFile the SQLite settings
	// that avoid a disk flush per write (WAL, synchronous=NORMAL). tars dev
	// sets it; false gives Temporal's defaults, for comparison in benchmarks.
	Tuned bool
}

// withDefaults returns a copy of o with zero fields filled and the fields
// checked. Ports that are 0 stay 0 here; Start picks them.
func (o Options) withDefaults() (Options, error) {
	if o.IP == "" || o.IP == "localhost" {
		o.IP = DefaultIP
	}
	if net.ParseIP(o.IP) == nil {
		return o, fmt.Errorf("IP %q is not an IP address", o.IP)
	}
	switch o.UIIP {
	case "":
		o.UIIP = o.IP
	case "localhost":
		o.UIIP = DefaultIP
	}
	if net.ParseIP(o.UIIP) == nil {
		return o, fmt.Errorf("UI IP %q is not an IP address", o.UIIP)
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("port %d is out of range", o.Port)
	}
	if o.UIPort < NoUI || o.UIPort > 65535 {
		return o, fmt.Errorf("UI port %d is out of range (-1 for no UI)", o.UIPort)
	}
	if o.UICodecEndpoint != "" {
		u, err := url.Parse(o.UICodecEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("UI codec endpoint %q: want an http:// or https:// URL", o.UICodecEndpoint)
		}
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	namespaces := o.namespaces()
	for i, ns := range namespaces {
		if ns == "" {
			return o, errors.New("extra namespaces: empty name")
		}
		if slices.Contains(namespaces[:i], ns) {
			return o, fmt.Errorf("namespace %q is listed twice", ns)
		}
	}
	for name, t := range o.SearchAttributes {
		if name == "" {
			return o, errors.New("search attributes: empty name")
		}
		if _, ok := enums.IndexedValueType_name[int32(t)]; !ok || t == enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return o, fmt.Errorf("search attribute %q: type %d is not an indexed value type", name, t)
		}
	}
	if o.LogLevel == "" {
		o.LogLevel = DefaultLogLevel
	}
	if _, err := parseLogLevel(o.LogLevel); err != nil {
		return o, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// namespaces is Namespace then ExtraNamespaces.
func (o Options) namespaces() []string {
	return append([]string{o.Namespace}, o.ExtraNamespaces...)
}
