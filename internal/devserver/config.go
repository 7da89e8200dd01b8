package devserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

const (
	clusterName = "active"
	storeName   = "sqlite"
	// internalIP is where history, matching and worker listen: only the
	// server's own services call them, so they never leave loopback whatever
	// IP the frontend is given.
	internalIP = "127.0.0.1"
)

// layout is where every part of the server listens.
type layout struct {
	ip, uiIP                               string
	frontend, frontendHTTP                 int
	httpAPI                                int // public, guarded HTTP API port; 0: none
	httpHostToken                          string
	history, matching, worker              int
	ui                                     int // 0: no UI
	uiBackend                              int // the UI server's own port, on internalIP, behind the Host check
	metrics                                int // 0: no metrics endpoint
	frontendAddr, frontendHTTPAddr, uiAddr string
}

// planLayout picks the ports left to the server (0 in Options, and all the
// internal ones), then checks that every one of them is free.
func planLayout(o Options) (layout, error) {
	l := layout{ip: o.IP, uiIP: o.UIIP, frontend: o.Port, ui: o.UIPort}
	if o.HTTPPort == 0 {
		l.frontendHTTP = -1 // no HTTP API
	}
	pick := func(ip string, p *int) error {
		if *p != 0 {
			return nil // a port asked for, or -1: none
		}
		port, err := FreePort(ip)
		*p = port
		return err
	}
	for _, p := range []struct {
		ip   string
		port *int
	}{
		{l.ip, &l.frontend}, {l.ip, &l.frontendHTTP},
		{internalIP, &l.history}, {internalIP, &l.matching}, {internalIP, &l.worker},
	} {
		if err := pick(p.ip, p.port); err != nil {
			return l, err
		}
	}
	claims := []portClaim{
		{"frontend", l.ip, l.frontend},
		{"history", internalIP, l.history},
		{"matching", internalIP, l.matching},
		{"worker", internalIP, l.worker},
	}
	if o.HTTPPort != 0 {
		// The server's own HTTP listener shares the frontend's IP; it
		// answers only a random Host name that the guard in front of it
		// sets, so it cannot be used directly (see httpapi.go).
		l.httpAPI = max(o.HTTPPort, 0)
		if err := pick(l.ip, &l.httpAPI); err != nil {
			return l, err
		}
		var b [12]byte
		_, _ = rand.Read(b[:])
		l.httpHostToken = "tars-http-" + hex.EncodeToString(b[:])
		claims = append(claims, portClaim{"frontend HTTP (internal)", l.ip, l.frontendHTTP}, portClaim{"HTTP API", l.ip, l.httpAPI})
	} else {
		l.frontendHTTP = 0
	}
	if o.Metrics {
		if err := pick(internalIP, &l.metrics); err != nil {
			return l, err
		}
		claims = append(claims, portClaim{"metrics", internalIP, l.metrics})
	}
	switch l.ui {
	case NoUI:
		l.ui = 0
	default:
		if err := pick(l.uiIP, &l.ui); err != nil {
			return l, err
		}
		if err := pick(internalIP, &l.uiBackend); err != nil {
			return l, err
		}
		claims = append(claims, portClaim{"UI", l.uiIP, l.ui}, portClaim{"UI (internal)", internalIP, l.uiBackend})
	}
	if err := checkPorts(claims); err != nil {
		return l, err
	}
	l.frontendAddr = dialAddr(l.ip, l.frontend)
	if l.frontendHTTP != 0 {
		l.frontendHTTPAddr = dialAddr(l.ip, l.frontendHTTP)
	}
	if l.ui != 0 {
		l.uiAddr = "http://" + dialAddr(l.uiIP, l.ui)
	}
	return l, nil
}

// dialAddr is the address a client on this machine dials to reach a listener
// on ip:port: loopback when the listener is on all interfaces.
func dialAddr(ip string, port int) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.IsUnspecified() {
		ip = "127.0.0.1"
		if parsed.To4() == nil {
			ip = "::1"
		}
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

// sqlConfig describes the SQLite database, and creates the schema when a
// database file is new.
//
// The server's SQLite plugin keeps every database it opens in a process-wide
// pool and never closes it, so an in-memory database gets a fresh random name
// on every Start: two servers in one process (tests, benchmarks) never share
// state, and a stopped server's memory is not reclaimed until the process
// exits.
func sqlConfig(o Options) (*config.SQL, error) {
	c := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DBFile == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.DatabaseName = "tars-dev-" + hex.EncodeToString(b[:])
		c.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		return c, nil
	}
	path, err := filepath.Abs(o.DBFile)
	if err != nil {
		return nil, fmt.Errorf("database file %s: %w", o.DBFile, err)
	}
	if strings.ContainsAny(path, "?#") {
		// The plugin opens "file:<path>?<attributes>" as a URI.
		return nil, fmt.Errorf("database file %s: the path may not contain '?' or '#'", path)
	}
	c.DatabaseName = path
	c.ConnectAttributes = map[string]string{"mode": "rwc"}
	if o.Tuned {
		// WAL appends instead of rewriting pages through a rollback journal,
		// and synchronous=NORMAL flushes to disk at checkpoints rather than on
		// every commit (each workflow step commits several times). A crash of
		// the process loses nothing; a power cut may lose the last commits,
		// never the database's consistency. Fine for a dev server.
		c.ConnectAttributes["journal_mode"] = "wal"
		c.ConnectAttributes["synchronous"] = "normal"
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && info.Size() == 0):
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("database file %s: directory: %w", path, err)
		}
		if err := sqliteschema.SetupSchema(c); err != nil {
			return nil, fmt.Errorf("database file %s: create schema: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("database file %s: %w", path, err)
	case info.IsDir():
		return nil, fmt.Errorf("database file %s is a directory", path)
	}
	return c, nil
}

// serverConfig is the static config of a single-process server: one history
// shard (one SQLite database cannot use more, and shards only spread load
// across hosts), no archival, no global namespaces, and a Prometheus
// endpoint on loopback only when the layout has a metrics port.
func serverConfig(l layout, sql *config.SQL) *config.Config {
	var c config.Config
	c.Global.Membership = config.Membership{
		MaxJoinDuration:  30 * time.Second,
		BroadcastAddress: internalIP,
	}
	c.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  storeName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{storeName: {SQL: sql}},
	}
	c.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             l.frontendAddr,
				HTTPAddress:            l.frontendHTTPAddr,
			},
		},
	}
	c.DCRedirectionPolicy = config.DCRedirectionPolicy{Policy: "noop"}
	if l.metrics != 0 {
		c.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{
			Framework:     metrics.FrameworkTally,
			ListenAddress: dialAddr(internalIP, l.metrics),
			HandlerPath:   "/metrics",
		}}
	}
	service := func(ip string, grpcPort, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{BindOnIP: ip, GRPCPort: grpcPort, HTTPPort: httpPort}}
	}
	c.Services = map[string]config.Service{
		"frontend": service(l.ip, l.frontend, l.frontendHTTP),
		"history":  service(internalIP, l.history, 0),
		"matching": service(internalIP, l.matching, 0),
		"worker":   service(internalIP, l.worker, 0),
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own system workflows (worker service) reach the frontend
	// through this.
	c.PublicClient.HostPort = l.frontendAddr
	return &c
}
