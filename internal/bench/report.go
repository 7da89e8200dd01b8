package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Report is the outcome of Run: the rows of the table, the targets checked
// against them, and what the figures were measured on.
type Report struct {
	Date      string   `json:"date"`    // YYYY-MM-DD
	Machine   string   `json:"machine"` // free text: cores, CPU, virtualisation
	GoVersion string   `json:"go_version"`
	Rounds    int      `json:"rounds"`  // samples per row, alternating sides
	Servers   []Server `json:"servers"` // the first is the one under test
	Rows      []Row    `json:"rows"`
	Checks    []Check  `json:"checks"`
	Notes     []string `json:"notes,omitempty"`
}

// Server describes a server a report measured on.
type Server struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Check is one target of issue #8 against the measured figures.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Op     string  `json:"op,omitempty"` // ">=" or "<="; "" for a figure with no target
	Target float64 `json:"target"`
	Met    bool    `json:"met"`
}

func newCheck(name string, value float64, op string, target float64) Check {
	met := value >= target
	if op == "<=" {
		met = value <= target
	}
	return Check{Name: name, Value: value, Op: op, Target: target, Met: met}
}

// Row returns the row of a workload, server and side, or nil.
func (r *Report) Row(workload, server, impl string) *Row {
	for i := range r.Rows {
		x := &r.Rows[i]
		if x.Workload == workload && x.Server == server && x.Impl == impl {
			return x
		}
	}
	return nil
}

// Ratio is TARS ÷ hand-written activity throughput for a workload on a
// server, 0 when either row is missing. With a sample per round on both
// sides it is the median of the rounds' ratios: the two samples of a round
// ran back to back, so the ratio of a pair cancels the drift of a noisy
// machine that the medians of each side alone keep. Otherwise it is the
// ratio of the medians.
func (r *Report) Ratio(workload, server string) float64 {
	t, g := r.Row(workload, server, ImplTARS), r.Row(workload, server, ImplGo)
	if t == nil || g == nil || g.ActivitiesPerSec == 0 {
		return 0
	}
	if len(t.Each) > 0 && len(t.Each) == len(g.Each) {
		var pairs []float64
		for i := range t.Each {
			if g.Each[i].ActivitiesPerSec > 0 {
				pairs = append(pairs, t.Each[i].ActivitiesPerSec/g.Each[i].ActivitiesPerSec)
			}
		}
		if len(pairs) == len(t.Each) {
			return Median(pairs)
		}
	}
	return t.ActivitiesPerSec / g.ActivitiesPerSec
}

// MaxLatencyP50 is the idle one-step p50 target in ms (issue #8).
const MaxLatencyP50 = 30.0

// AddChecks derives the targets from the rows: TARS ≥ 0.9×
// hand-written on the sequential and foreach workloads (same server, same
// worker options); TARS on the server under test ≥ 3× the hand-written side
// with the SDK's defaults on each comparison server on both, and ≤ 1/3 of
// its idle one-step p50; that p50 ≤ 30 ms. Ratios with no target (TARS on
// both servers: what the server settings alone give) are added for
// information.
func (r *Report) AddChecks() {
	if len(r.Servers) == 0 {
		return
	}
	main := r.Servers[0].Name
	for _, w := range []string{Sequential, Foreach} {
		for _, s := range r.Servers {
			if v := r.Ratio(w, s.Name); v > 0 {
				r.Checks = append(r.Checks, newCheck(fmt.Sprintf("%s on %s: TARS ÷ hand-written activities/s", w, s.Name), v, ">=", 0.9))
			}
		}
	}
	for _, other := range r.Servers[1:] {
		for _, w := range []string{Sequential, Foreach} {
			a := r.Row(w, main, ImplTARS)
			if b := r.Row(w, other.Name, ImplGoDefault); a != nil && b != nil && b.ActivitiesPerSec > 0 {
				r.Checks = append(r.Checks, newCheck(fmt.Sprintf("%s: TARS on %s ÷ %s on %s, activities/s", w, main, ImplGoDefault, other.Name), a.ActivitiesPerSec/b.ActivitiesPerSec, ">=", 3))
			}
			if b := r.Row(w, other.Name, ImplTARS); a != nil && b != nil && b.ActivitiesPerSec > 0 {
				r.Checks = append(r.Checks, info(fmt.Sprintf("%s: TARS on %s ÷ TARS on %s, activities/s (server settings alone)", w, main, other.Name), a.ActivitiesPerSec/b.ActivitiesPerSec))
			}
		}
		a := r.Row(Latency, main, ImplTARS)
		if b := r.Row(Latency, other.Name, ImplGoDefault); a != nil && b != nil && b.P50Ms > 0 {
			r.Checks = append(r.Checks, newCheck(fmt.Sprintf("one-step p50: TARS on %s ÷ %s on %s", main, ImplGoDefault, other.Name), a.P50Ms/b.P50Ms, "<=", 1.0/3))
		}
		if b := r.Row(Latency, other.Name, ImplTARS); a != nil && b != nil && b.P50Ms > 0 {
			r.Checks = append(r.Checks, info(fmt.Sprintf("one-step p50: TARS on %s ÷ TARS on %s (server settings alone)", main, other.Name), a.P50Ms/b.P50Ms))
		}
	}
	if a := r.Row(Latency, main, ImplTARS); a != nil {
		r.Checks = append(r.Checks, newCheck(fmt.Sprintf("one-step p50 on idle %s, TARS (ms)", main), a.P50Ms, "<=", MaxLatencyP50))
	}
	if wide := r.Row(ForeachWide, main, ImplTARS); wide != nil && wide.ActivitiesPerSec > 0 {
		if a := r.Row(ForeachLarge, main, ImplTARS); a != nil {
			r.Checks = append(r.Checks, newCheck(largeForeachCheck(ForeachLarge, main),
				a.ActivitiesPerSec/wide.ActivitiesPerSec, ">=", MinLargeForeachRatio))
		}
		// A million items has no rate target, only a time to record
		// (issue 12): the ratio is shown beside it, for comparison.
		if a := r.Row(ForeachHuge, main, ImplTARS); a != nil {
			r.Checks = append(r.Checks, info(largeForeachCheck(ForeachHuge, main), a.ActivitiesPerSec/wide.ActivitiesPerSec))
		}
	}
}

func largeForeachCheck(w, server string) string {
	return fmt.Sprintf("%s ÷ %s items/s on %s (in shards, concurrency %d)", w, ForeachWide, server, LargeConcurrency)
}

// MinLargeForeachRatio: a foreach of 100,000 items keeps at least this
// share of the items/s of one of 1,000 (issue 12: cost grows linearly).
// foreach-1m's ratio is shown without a target.
const MinLargeForeachRatio = 0.8

// info is a figure worth showing beside the checks that has no target.
func info(name string, value float64) Check { return Check{Name: name, Value: value, Met: true} }

// WriteTable prints the report as aligned text: one line per row, the ratio
// TARS ÷ hand-written beside TARS rows that have a hand-written twin, then
// the checks.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "tars bench · %s · %s · %s · median of %d alternating rounds\n", r.Date, r.Machine, r.GoVersion, r.Rounds)
	for _, s := range r.Servers {
		fmt.Fprintf(w, "  %-12s %s\n", s.Name, s.Description)
	}
	fmt.Fprintln(w)
	cells := [][]string{{"workload", "server", "side", "acts/run", "activities/s", "runs/s", "p50 ms", "p99 ms", "peak RSS MiB", "TARS÷Go"}}
	for _, x := range r.Rows {
		ratio := ""
		if x.Impl == ImplTARS && throughput(x.Workload) {
			if v := r.Ratio(x.Workload, x.Server); v > 0 {
				ratio = fmt.Sprintf("%.2f", v)
			}
		}
		rss := num(x.PeakRSSMiB, "%.0f")
		if x.ServerPeakRSSMiB > 0 {
			rss += fmt.Sprintf(" +%.0f", x.ServerPeakRSSMiB)
		}
		cells = append(cells, []string{x.Workload, x.Server, x.Impl, num(float64(x.Activities), "%.0f"),
			num(x.ActivitiesPerSec, "%.1f"), num(x.RunsPerSec, "%.2f"),
			num(x.P50Ms, "%.1f"), num(x.P99Ms, "%.1f"), rss, ratio})
	}
	writeColumns(w, cells, 3)
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\ntargets")
		for _, c := range r.Checks {
			if c.Op == "" {
				fmt.Fprintf(w, "  info    %s = %.2f\n", c.Name, c.Value)
				continue
			}
			mark := "met   "
			if !c.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "  %s  %s = %.2f (target %s %.2f)\n", mark, c.Name, c.Value, strings.ReplaceAll(strings.ReplaceAll(c.Op, ">=", "≥"), "<=", "≤"), c.Target)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// throughput workloads are judged by activities/s, so their table rows get
// the ratio TARS ÷ hand-written; the latency workload is judged by p50/p99.
func throughput(w string) bool { return w == Sequential || w == Foreach || w == Concurrent }

// writeColumns prints cells as aligned columns two spaces apart: the first
// left columns aligned left (names), the others right (figures).
func writeColumns(w io.Writer, cells [][]string, left int) {
	var widths []int
	for _, row := range cells {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range cells {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// num formats v, or "-" for 0 (a figure the workload does not have).
func num(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
