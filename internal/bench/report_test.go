package bench

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testReport() *Report {
	row := func(w, server, impl string, acts int, actsPerSec, p50 float64) Row {
		return Row{Workload: w, Server: server, Impl: impl, Samples: 3, Activities: acts, Runs: 1,
			ActivitiesPerSec: actsPerSec, RunsPerSec: actsPerSec / float64(max(1, acts)), P50Ms: p50, P99Ms: 2 * p50, PeakRSSMiB: 300}
	}
	r := &Report{
		Date: "2026-11-26", Machine: "2-core x86-64 VM", GoVersion: "go1.26.8", Rounds: 3,
		Servers: []Server{{Name: "tars dev", Description: "embedded, tuned"}, {Name: "start-dev", Description: "temporal CLI, defaults"}},
		Rows: []Row{
			row(Sequential, "tars dev", ImplTARS, 200, 38, 5200),
			row(Sequential, "tars dev", ImplGo, 200, 40, 5000),
			row(Sequential, "start-dev", ImplTARS, 200, 10, 20000),
			row(Sequential, "start-dev", ImplGoDefault, 200, 11, 18000),
			row(Foreach, "tars dev", ImplTARS, 1000, 200, 5000),
			row(Foreach, "tars dev", ImplGo, 1000, 250, 4000),
			row(Foreach, "start-dev", ImplGoDefault, 1000, 80, 12500),
			row(Latency, "tars dev", ImplTARS, 50, 40, 25),
			row(Latency, "start-dev", ImplTARS, 50, 6, 150),
			row(Latency, "start-dev", ImplGoDefault, 50, 6, 125),
			row(Mixed, "tars dev", ImplTARS, 31, 50, 600),
		},
	}
	r.Rows[2].ServerPeakRSSMiB = 95
	r.AddChecks()
	return r
}

func TestAddChecks(t *testing.T) {
	r := testReport()
	got := map[string]Check{}
	for _, c := range r.Checks {
		got[c.Name] = c
	}
	tests := []struct {
		name  string
		value float64
		met   bool
		op    string
	}{
		{"sequential on tars dev: TARS ÷ hand-written activities/s", 0.95, true, ">="},
		{"foreach on tars dev: TARS ÷ hand-written activities/s", 0.8, false, ">="},
		{"sequential: TARS on tars dev ÷ go-default on start-dev, activities/s", 38.0 / 11, true, ">="},
		{"foreach: TARS on tars dev ÷ go-default on start-dev, activities/s", 2.5, false, ">="},
		{"sequential: TARS on tars dev ÷ TARS on start-dev, activities/s (server settings alone)", 3.8, true, ""},
		{"one-step p50: TARS on tars dev ÷ go-default on start-dev", 0.2, true, "<="},
		{"one-step p50: TARS on tars dev ÷ TARS on start-dev (server settings alone)", 25.0 / 150, true, ""},
		{"one-step p50 on idle tars dev, TARS (ms)", 25, true, "<="},
	}
	for _, tt := range tests {
		c, ok := got[tt.name]
		if assert.True(t, ok, "missing check %q", tt.name) {
			assert.InDelta(t, tt.value, c.Value, 1e-9, tt.name)
			assert.Equal(t, tt.met, c.Met, tt.name)
			assert.Equal(t, tt.op, c.Op, tt.name)
		}
	}
	assert.Len(t, r.Checks, len(tests), "no check where a row is missing (foreach: no TARS row on start-dev, no hand-written one)")
}

// The 100,000-item foreach has a target against the 1,000-item one; the
// million-item one has only a time to record, so its ratio is shown
// without a target and a slow million never reads as a miss.
func TestLargeForeachChecks(t *testing.T) {
	tarsDev := []Server{{Name: "tars dev"}}
	r := &Report{Servers: tarsDev, Rows: []Row{
		{Workload: ForeachWide, Server: "tars dev", Impl: ImplTARS, ActivitiesPerSec: 600},
		{Workload: ForeachLarge, Server: "tars dev", Impl: ImplTARS, ActivitiesPerSec: 420},
		{Workload: ForeachHuge, Server: "tars dev", Impl: ImplTARS, ActivitiesPerSec: 390},
	}}
	r.AddChecks()
	got := map[string]Check{}
	for _, c := range r.Checks {
		got[c.Name] = c
	}
	large := got["foreach-100k ÷ foreach-1k items/s on tars dev (in shards, concurrency 200)"]
	assert.InDelta(t, 0.7, large.Value, 1e-9)
	assert.False(t, large.Met, "0.7 is under the 0.8 target")
	assert.Equal(t, ">=", large.Op)
	huge := got["foreach-1m ÷ foreach-1k items/s on tars dev (in shards, concurrency 200)"]
	assert.InDelta(t, 0.65, huge.Value, 1e-9)
	assert.True(t, huge.Met)
	assert.Empty(t, huge.Op, "no target for a million items")

	r = &Report{Servers: tarsDev, Rows: r.Rows[1:]}
	r.AddChecks()
	assert.Empty(t, r.Checks, "no ratio without the 1,000-item reference")
}

func TestRatioPairsRounds(t *testing.T) {
	each := func(v ...float64) []Figure {
		out := make([]Figure, len(v))
		for i := range v {
			out[i].ActivitiesPerSec = v[i]
		}
		return out
	}
	r := &Report{Rows: []Row{
		// A machine that slows down round after round: each side's median
		// says 0.67, every round says 0.9 or 1.
		{Workload: Foreach, Server: "s", Impl: ImplTARS, ActivitiesPerSec: 400, Each: each(900, 400, 100)},
		{Workload: Foreach, Server: "s", Impl: ImplGo, ActivitiesPerSec: 600, Each: each(1000, 400, 100)},
		{Workload: Sequential, Server: "s", Impl: ImplTARS, ActivitiesPerSec: 30, Each: each(30)},
		{Workload: Sequential, Server: "s", Impl: ImplGo, ActivitiesPerSec: 40, Each: each(40, 40)},
	}}
	assert.InDelta(t, 1.0, r.Ratio(Foreach, "s"), 1e-9, "median of 0.9, 1, 1")
	assert.InDelta(t, 0.75, r.Ratio(Sequential, "s"), 1e-9, "unpaired: ratio of the medians")
	assert.Zero(t, r.Ratio(Latency, "s"))
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, testReport()))
	out := b.String()
	lines := strings.Split(out, "\n")
	assert.Contains(t, lines[0], "2026-11-26")
	assert.Contains(t, lines[0], "median of 3 alternating rounds")
	assert.Contains(t, out, "  start-dev    temporal CLI, defaults")
	header := lineWith(lines, "workload")
	require.NotEmpty(t, header)
	for _, col := range []string{"activities/s", "runs/s", "p50 ms", "p99 ms", "peak RSS MiB", "TARS÷Go"} {
		assert.Contains(t, header, col)
	}
	seq := rowLine(lines, Sequential, "tars dev", ImplTARS)
	assert.Contains(t, seq, "38.0")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(seq), "0.95"), "ratio beside the TARS row: %q", seq)
	goRow := rowLine(lines, Sequential, "tars dev", ImplGo)
	assert.NotEmpty(t, rowLine(lines, Sequential, "start-dev", ImplGoDefault))
	assert.NotEmpty(t, goRow)
	assert.False(t, strings.HasSuffix(strings.TrimSpace(goRow), "0.95"), "no ratio beside the Go row")
	assert.Contains(t, rowLine(lines, Sequential, "start-dev", ImplTARS), "300 +95", "an external server's memory is shown beside ours")
	mixed := rowLine(lines, Mixed, "tars dev", ImplTARS)
	assert.True(t, strings.HasSuffix(mixed, "300"), "no ratio without a hand-written twin: %q", mixed)
	// Columns are aligned: a row with a ratio ends where the header ends.
	assert.Equal(t, len([]rune(lineWith(lines, "workload"))), len([]rune(seq)))
	assert.Contains(t, out, "MISSED  foreach on tars dev: TARS ÷ hand-written activities/s = 0.80 (target ≥ 0.90)")
	assert.Contains(t, out, "met     one-step p50 on idle tars dev, TARS (ms) = 25.00 (target ≤ 30.00)")
	assert.Contains(t, out, "info    sequential: TARS on tars dev ÷ TARS on start-dev, activities/s (server settings alone) = 3.80\n")
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	r := testReport()
	r.Notes = []string{"loop: 3000 turns <in> 5 runs"}
	require.NoError(t, WriteJSON(&b, r))
	assert.Contains(t, b.String(), "<in>", "no HTML escaping")
	var back Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, r.Rows, back.Rows)
	assert.Equal(t, r.Checks, back.Checks)
	assert.Equal(t, r.Servers, back.Servers)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &raw))
	row := raw["rows"].([]any)[0].(map[string]any)
	for _, k := range []string{"workload", "server", "impl", "activities_per_sec", "runs_per_sec", "p50_ms", "p99_ms", "peak_rss_mib", "each"} {
		assert.Contains(t, row, k)
	}
}

// rowLine is the table line of a row.
func rowLine(lines []string, workload, server, impl string) string {
	re := regexp.MustCompile(`^\s*` + workload + `\s+` + regexp.QuoteMeta(server) + `\s+` + impl + `\s`)
	for _, l := range lines {
		if re.MatchString(l) {
			return l
		}
	}
	return ""
}

func lineWith(lines []string, s string) string {
	if i := lineIndex(lines, s); i >= 0 {
		return lines[i]
	}
	return ""
}

func lineIndex(lines []string, s string) int {
	for i, l := range lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}
