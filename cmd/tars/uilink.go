package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// devState is what a running tars dev leaves for the other commands on this
// machine: where its Web UI and trace page are, so their links are right
// whatever ports it was given.
type devState struct {
	PID     int    `json:"pid"`
	Address string `json:"address"`
	UI      string `json:"ui"` // "" when started with --ui-port -1
	Trace   string `json:"trace"`
	// Blobs is the URL of tars dev's store of large values, "" when
	// external storage is off (internal/blobstore).
	Blobs string `json:"blobs,omitempty"`
}

// devStateFile is where tars dev serving address records its state.
func devStateFile(address string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	name := strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(address)
	return filepath.Join(dir, "tars", "dev", name+".json")
}

// writeDevState records a running tars dev; the returned func removes it.
func writeDevState(st devState) (func(), error) {
	path := devStateFile(st.Address)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(path) }, nil
}

// readDevState returns the state of the tars dev serving address, if one
// runs on this machine.
func readDevState(address string) (devState, bool) {
	var st devState
	b, err := os.ReadFile(devStateFile(address))
	if err != nil || json.Unmarshal(b, &st) != nil || st.Address != address {
		return st, false
	}
	// A tars dev killed without cleaning up leaves its file behind.
	if !processAlive(st.PID) {
		return st, false
	}
	return st, true
}

// uiBase is the Web UI's base URL for links, "" when there is none: --ui
// (TARS_UI, config ui) when set; else the UI of the tars dev serving
// --address on this machine; else Temporal's convention for its dev
// server, the frontend's host with the port plus 1000 (7233 → 8233).
func (g *globals) uiBase() string {
	if g.uiURL != "" {
		return strings.TrimRight(g.uiURL, "/")
	}
	if st, ok := readDevState(g.address); ok {
		return strings.TrimRight(st.UI, "/")
	}
	host, port, err := net.SplitHostPort(g.address)
	if err != nil {
		return ""
	}
	p, err := strconv.Atoi(port)
	if err != nil || p+1000 > 65535 {
		return ""
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(p+1000))
}

// runLink is the Web UI page of a run, "" when there is no UI to link to.
func (g *globals) runLink(id string) string {
	base := g.uiBase()
	if base == "" {
		return ""
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", base, url.PathEscape(g.namespace), url.PathEscape(id))
}
