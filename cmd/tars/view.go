package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// liveView prints step states: redrawn in place on a terminal, one line per
// change otherwise (so logs and pipes stay readable).
type liveView struct {
	run   string // run id, for the commands the view suggests
	out   io.Writer
	tty   bool
	lines int
	last  map[string]string
}

func newLiveView(run string, out io.Writer, tty bool) *liveView {
	return &liveView{run: run, out: out, tty: tty, last: map[string]string{}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

var marks = map[string]string{
	workflows.StatusPending: "·", workflows.StatusRunning: "▶", workflows.StatusWaiting: "?",
	workflows.StatusOK: "✓", workflows.StatusFailed: "✗", workflows.StatusSkipped: "-",
	workflows.StatusHandled: "!", workflows.StatusPaused: "‖", workflows.StatusCanceled: "✗",
	// a step the run's termination or timeout caught in flight (settle)
	trace.RunTerminated: "✗", trace.RunTimedOut: "✗",
}

func stepLine(run string, s workflows.StepView, attempt int32, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %-18s %-8s", marks[s.Status], s.ID, s.Status)
	if s.Runtime != "" {
		fmt.Fprintf(&b, " %-10s", s.Runtime)
	}
	if s.Items > 0 {
		fmt.Fprintf(&b, " %d/%d items", s.ItemsDone, s.Items)
	}
	if s.Shards > 0 {
		fmt.Fprintf(&b, " in %d/%d shards", s.ShardsDone, s.Shards)
	}
	if s.Turns > 0 {
		fmt.Fprintf(&b, " turn %d", s.Turns)
	}
	if attempt > 1 {
		fmt.Fprintf(&b, " attempt %d", attempt)
	}
	if !s.Started.IsZero() {
		end := s.Ended
		if end.IsZero() {
			end = now
		}
		fmt.Fprintf(&b, " %s", end.Sub(s.Started).Round(time.Millisecond))
	}
	for _, h := range s.Hops {
		fmt.Fprintf(&b, " [%s→%s: %s]", h.From, orNone(h.To), h.Reason)
	}
	if s.Prompt != "" {
		fmt.Fprintf(&b, " waiting: %q (tars approve %s %s)", s.Prompt, run, s.ID)
	}
	if s.Error != "" {
		e := s.Error
		if len(e) > 160 {
			e = e[:160] + "…"
		}
		fmt.Fprintf(&b, "\n      %s", e)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (v *liveView) render(st workflows.State, attempts map[string]int32) {
	now := time.Now()
	if v.tty {
		if v.lines > 0 {
			fmt.Fprintf(v.out, "\x1b[%dA\x1b[J", v.lines)
		}
		v.lines = 0
		for _, s := range st.Steps {
			line := stepLine(v.run, s, attempts[s.ID], now)
			fmt.Fprintln(v.out, line)
			v.lines += 1 + strings.Count(line, "\n")
		}
		return
	}
	for _, s := range st.Steps {
		key := fmt.Sprintf("%s|%s|%d|%d|%d|%d|%d", s.Status, s.Runtime, attempts[s.ID], s.ItemsDone, s.ShardsDone, s.Turns, len(s.Hops))
		if v.last[s.ID] == key {
			continue
		}
		v.last[s.ID] = key
		fmt.Fprintln(v.out, stepLine(v.run, s, attempts[s.ID], now))
	}
}

func (v *liveView) finish() { v.lines = 0 }

// budgetsText lists what a run has spent against its budgets, by name.
func budgetsText(spent map[string]float64) string {
	names := make([]string, 0, len(spent))
	for n := range spent {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %g", n, spent[n])
	}
	return strings.Join(parts, " · ")
}
