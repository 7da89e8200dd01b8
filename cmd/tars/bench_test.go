package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/internal/bench"
)

func TestParseDynamicConfig(t *testing.T) {
	got, err := parseDynamicConfig([]string{
		"history.longPollExpirationInterval=500ms",
		"matching.numTaskqueueReadPartitions=4",
		"x.ratio=0.5",
		"x.flag=true",
		"x.name=sqlite",
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"history.longPollExpirationInterval":  500 * time.Millisecond,
		"matching.numTaskqueueReadPartitions": 4,
		"x.ratio":                             0.5,
		"x.flag":                              true,
		"x.name":                              "sqlite",
	}, got)
	_, err = parseDynamicConfig([]string{"no-equals"})
	assert.ErrorContains(t, err, "want KEY=VALUE")
	_, err = parseDynamicConfig([]string{"=1"})
	assert.ErrorContains(t, err, "want KEY=VALUE")
}

func TestFindTemporalCLI(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "temporal")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))

	p, _ := findTemporalCLI("/opt/temporal")
	assert.Equal(t, "/opt/temporal", p, "a path is taken as given")
	p, why := findTemporalCLI("none")
	assert.Empty(t, p)
	assert.NotEmpty(t, why)

	t.Setenv("PATH", filepath.Dir(bin))
	p, _ = findTemporalCLI("auto")
	assert.Equal(t, bin, p, "auto: on PATH")

	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", dir)
	p, _ = findTemporalCLI("auto")
	assert.Equal(t, bin, p, "auto: in $GOPATH/bin")

	t.Setenv("GOPATH", t.TempDir())
	p, why = findTemporalCLI("auto")
	assert.Empty(t, p)
	assert.Contains(t, why, "go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7233":       true,
		"127.0.0.2:7233":       true,
		"localhost:7233":       true,
		"[::1]:7233":           true,
		"10.0.0.5:7233":        false,
		"temporal.local:7233":  false,
		"my.tmprl.cloud:7233":  false,
		"127.0.0.1":            false, // no port: not an address dial accepts
		"[2001:db8::1]:7233":   false,
		"0.0.0.0:7233":         false,
		"localhost.evil:7233":  false,
		"127.0.0.1.nip.io:443": false,
	} {
		assert.Equal(t, want, isLoopback(addr), addr)
	}
}

// TestBenchSmoke runs `tars bench` on two short workloads against a fresh
// embedded server, with no comparison server: the command, the harness and
// the report hold together. The full bench is `make bench`.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server; run without -short")
	}
	g := &globals{}
	require.NoError(t, g.resolve())
	g.logLevel = "error"
	jsonFile := filepath.Join(t.TempDir(), "bench.json")
	var out, progress bytes.Buffer
	err := runBench(context.Background(), g, benchFlags{
		workloads: "latency,sequential", runs: 1, compareCLI: "none", pools: "native",
		jsonFile: jsonFile, date: "2026-11-26", machine: "test",
	}, &out, &progress)
	require.NoError(t, err, "progress:\n%s", progress.String())
	assert.Contains(t, out.String(), "tars bench · 2026-11-26 · test")
	assert.Regexp(t, `(?m)^sequential\s+tars dev\s+tars\s+200\s`, out.String())
	assert.Regexp(t, `(?m)^latency\s+tars dev\s+go\s+50\s`, out.String())
	assert.Contains(t, progress.String(), "round 1/1")

	b, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	var rep bench.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Rows, 4)
	for _, r := range rep.Rows {
		assert.Positive(t, r.RunsPerSec, "%s %s", r.Workload, r.Impl)
		assert.Positive(t, r.Events, "%s %s", r.Workload, r.Impl)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
	}
	assert.Contains(t, names, "one-step p50 on idle tars dev, TARS (ms)")
	assert.Contains(t, names, "sequential on tars dev: TARS ÷ hand-written activities/s")
}
