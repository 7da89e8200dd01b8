package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// WriteJSON writes the trace as indented JSON: times RFC 3339, durations
// in milliseconds (fields ending in _ms), children nested when fetched.
func WriteJSON(w io.Writer, t *Trace) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// Marks are the one-character step states the tree and the CLI use.
var Marks = map[string]string{
	workflows.StatusPending: "·", workflows.StatusRunning: "▶", workflows.StatusWaiting: "?",
	workflows.StatusOK: "✓", workflows.StatusFailed: "✗", workflows.StatusSkipped: "-",
	workflows.StatusHandled: "!", workflows.StatusPaused: "‖",
	// A step the run's end caught in flight takes the run's status.
	RunTerminated: "✗", RunTimedOut: "✗", RunCanceled: "✗",
}

// WriteTree prints the trace like `tree`: the run, then department → team
// → agent → step → activity, with status, runtime, durations, attempts,
// hops, sizes and pool figures, then totals per runtime. Levels without a
// name (no department, no team) are folded away.
func WriteTree(w io.Writer, t *Trace) error {
	tw := &treeWriter{w: w}
	tw.run(t, "")
	return tw.err
}

type treeWriter struct {
	w   io.Writer
	err error
}

func (tw *treeWriter) line(prefix, branch, text string) {
	if tw.err != nil {
		return
	}
	_, tw.err = fmt.Fprintf(tw.w, "%s%s%s\n", prefix, branch, text)
}

// node is one line of the tree with its children, built then printed.
type node struct {
	text string
	kids []*node
}

func (n *node) add(text string) *node {
	k := &node{text: text}
	n.kids = append(n.kids, k)
	return k
}

func (tw *treeWriter) print(prefix string, kids []*node) {
	for i, k := range kids {
		branch, next := "├── ", "│   "
		if i == len(kids)-1 {
			branch, next = "└── ", "    "
		}
		lines := strings.Split(k.text, "\n")
		tw.line(prefix, branch, lines[0])
		for _, l := range lines[1:] {
			tw.line(prefix+next, "", l)
		}
		tw.print(prefix+next, k.kids)
	}
}

func (tw *treeWriter) run(t *Trace, prefix string) {
	root := &node{}
	tw.build(root, t)
	tw.line(prefix, "", runLine(t))
	tw.print(prefix, root.kids)
}

func runLine(t *Trace) string {
	var b strings.Builder
	b.WriteString(t.Metascript)
	if t.WorkflowID != "" {
		fmt.Fprintf(&b, " · %s", t.WorkflowID)
	}
	if t.RunID != "" {
		fmt.Fprintf(&b, " · run %s", t.RunID)
	}
	fmt.Fprintf(&b, " · %s", t.Status)
	if t.Status == RunRunning {
		fmt.Fprintf(&b, " for %s", fmtDur(t.Duration.D()))
	} else {
		fmt.Fprintf(&b, " in %s", fmtDur(t.Duration.D()))
	}
	fmt.Fprintf(&b, " · %d events · started %s", t.Events, t.Start.UTC().Format(time.RFC3339))
	if t.Live {
		b.WriteString(" · live")
	}
	return b.String()
}

func (tw *treeWriter) build(root *node, t *Trace) {
	if t.Error != "" {
		root.add("error: " + oneLine(t.Error, 300))
	}
	if t.ContinuedFrom != "" {
		root.add("continues run " + t.ContinuedFrom)
	}
	if len(t.Inputs) > 0 {
		keys := make([]string, 0, len(t.Inputs))
		for k := range t.Inputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			v, _ := json.Marshal(t.Inputs[k])
			parts = append(parts, k+"="+oneLine(string(v), 60))
		}
		root.add("inputs: " + strings.Join(parts, " "))
	}
	for _, d := range t.Departments {
		parent := root
		if d.Name != "" {
			parent = root.add(fmt.Sprintf("department %s  %s", d.Name, totalText(d.Total)))
		}
		for _, tm := range d.Teams {
			tp := parent
			if tm.Name != "" {
				tp = parent.add(fmt.Sprintf("team %s  %s", tm.Name, totalText(tm.Total)))
			}
			for _, a := range tm.Agents {
				name := "agent " + a.ID
				if a.ID == "" {
					name = "(no agent)"
				}
				if a.Role != "" {
					name += " (" + a.Role + ")"
				}
				an := tp.add(name + "  " + totalText(a.Total))
				for _, id := range a.Steps {
					tw.step(an, t, t.Step(id))
				}
			}
		}
	}
	if len(t.Probes) > 0 {
		n := root.add(fmt.Sprintf("pool probes (%s on the workflow queue): %d", t.Probes[0].Tool, len(t.Probes)))
		for _, p := range t.Probes {
			n.add(activityText(p))
		}
	}
	if t.ContinuedAs != "" {
		root.add("continued as new: run " + t.ContinuedAs)
	}
	if len(t.Totals.Runtimes) > 0 {
		n := root.add("totals by runtime  " + totalText(t.Totals.Run))
		rts := make([]string, 0, len(t.Totals.Runtimes))
		for rt := range t.Totals.Runtimes {
			rts = append(rts, rt)
		}
		sort.Slice(rts, func(i, j int) bool { return runtimeRank(rts[i]) < runtimeRank(rts[j]) })
		for _, rt := range rts {
			n.add(fmt.Sprintf("%-10s %s", rt, totalText(*t.Totals.Runtimes[rt])))
		}
	}
}

func runtimeRank(rt string) string {
	for i, r := range plan.Runtimes {
		if r == rt {
			return fmt.Sprint(i)
		}
	}
	return "9" + rt
}

func (tw *treeWriter) step(parent *node, t *Trace, s *Step) {
	if s == nil {
		return
	}
	var b strings.Builder
	mark := Marks[s.Status]
	if mark == "" {
		mark = "?"
	}
	fmt.Fprintf(&b, "%s %s  %s", mark, s.ID, s.Status)
	what := s.Kind
	switch s.Kind {
	case plan.KindTool, plan.KindReason:
		what = s.Tool
		if s.Runtime != "" {
			what += " on " + s.Runtime
		}
	case plan.KindCall:
		what = "call " + s.Tool
	}
	fmt.Fprintf(&b, "  %s", what)
	if s.Duration > 0 || !s.Start.IsZero() {
		fmt.Fprintf(&b, "  %s", fmtDur(s.Duration.D()))
	}
	if s.Items > 0 {
		fmt.Fprintf(&b, "  %d/%d items", s.ItemsDone, s.Items)
	}
	if s.Shards > 0 {
		fmt.Fprintf(&b, " in %d/%d shards", s.ShardsDone, s.Shards)
	}
	if s.Turns > 0 {
		fmt.Fprintf(&b, "  %s", plural(s.Turns, "turn"))
	}
	if s.Attempts > len(s.Activities) {
		fmt.Fprintf(&b, "  %s", plural(s.Attempts, "attempt"))
	}
	if s.Failures > 0 {
		fmt.Fprintf(&b, "  %d failed", s.Failures)
	}
	if s.Resumed {
		b.WriteString("  (done in an earlier run)")
	}
	for _, h := range s.Hops {
		fmt.Fprintf(&b, "  [%s→%s: %s]", h.From, orNone(h.To), h.Reason)
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "\nerror: %s", oneLine(s.Error, 200))
	}
	if s.Prompt != "" {
		fmt.Fprintf(&b, "\nwaiting: %q", oneLine(s.Prompt, 120))
	}
	sn := parent.add(b.String())
	for _, a := range s.Activities {
		sn.add(activityText(a))
	}
	if ap := s.Approval; ap != nil {
		sn.add(approvalText(ap))
	}
	if c := s.Child; c != nil {
		cn := sn.add(fmt.Sprintf("child %s · %s · %s%s", c.WorkflowType, c.WorkflowID, c.Status, spanText(c.Initiated, c.Closed)))
		if c.Error != "" {
			cn.add("error: " + oneLine(c.Error, 200))
		}
		if c.Trace != nil {
			ct := &node{}
			tw.build(ct, c.Trace)
			k := cn.add(runLine(c.Trace))
			k.kids = ct.kids
		}
	}
}

func activityText(a *Activity) string {
	var b strings.Builder
	if a.Step == "" {
		fmt.Fprintf(&b, "%s (activity %s)  %s", a.Tool, a.ActivityID, a.Status)
	} else {
		fmt.Fprintf(&b, "%s  %s", a.ActivityID, a.Status)
	}
	if a.Timeout != "" {
		fmt.Fprintf(&b, " (%s)", a.Timeout)
	}
	if a.Attempt > 0 {
		if a.MaxAttempts > 0 {
			fmt.Fprintf(&b, "  attempt %d/%d", a.Attempt, a.MaxAttempts)
		} else {
			fmt.Fprintf(&b, "  attempt %d", a.Attempt)
		}
	}
	if a.Queued > 0 {
		fmt.Fprintf(&b, "  queued %s", fmtDur(a.Queued.D()))
	}
	if a.Ran > 0 {
		fmt.Fprintf(&b, "  ran %s", fmtDur(a.Ran.D()))
	} else if !a.Closed.IsZero() && a.Started.IsZero() {
		fmt.Fprintf(&b, "  after %s", fmtDur(a.Closed.Sub(a.Scheduled)))
	}
	fmt.Fprintf(&b, "  on %s", a.TaskQueue)
	if a.Identity != "" {
		fmt.Fprintf(&b, " by %s", a.Identity)
	}
	fmt.Fprintf(&b, "  in %s", fmtBytes(a.InputBytes))
	if a.InputStored {
		b.WriteString(" (stored)")
	}
	if a.OutputBytes > 0 {
		fmt.Fprintf(&b, " out %s", fmtBytes(a.OutputBytes))
		if a.OutputStored {
			b.WriteString(" (stored)")
		}
	}
	if len(a.Metrics) > 0 {
		keys := make([]string, 0, len(a.Metrics))
		for k := range a.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s=%g", k, a.Metrics[k])
		}
	}
	if d := a.Agent; d != nil {
		b.WriteString("\n" + agentText(d, a))
	} else if a.OutputPreview != "" {
		b.WriteString("\nout: " + oneLine(a.OutputPreview, 120))
	}
	if a.LastFailure != "" {
		fmt.Fprintf(&b, "\nattempt %d failed: %s", a.Attempt-1, oneLine(a.LastFailure, 200))
	}
	if a.Failure != "" {
		fmt.Fprintf(&b, "\nfailed: %s", oneLine(a.Failure, 200))
	}
	return b.String()
}

func approvalText(ap *ApprovalDecision) string {
	verdict := "rejected"
	if ap.Approved {
		verdict = "approved"
	}
	if ap.TimedOut {
		return fmt.Sprintf("no decision within %s: default %s (event %d)", fmtDur(ap.Timeout.D()), verdict, ap.EventID)
	}
	s := fmt.Sprintf("%s by %s at %s (signal, event %d)", verdict, orNone(ap.By), ap.Time.UTC().Format("15:04:05.000"), ap.EventID)
	if ap.Comment != "" {
		s += ": " + oneLine(ap.Comment, 120)
	}
	return s
}

func totalText(t Total) string {
	s := plural(t.Steps, "step") + " · " + plural(t.Attempts, "attempt")
	if t.Failures > 0 {
		s += fmt.Sprintf(" · %d failed", t.Failures)
	}
	if t.Hops > 0 {
		s += " · " + plural(t.Hops, "hop")
	}
	if t.Busy > 0 {
		s += " · busy " + fmtDur(t.Busy.D())
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func spanText(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return ""
	}
	return " · " + fmtDur(b.Sub(a))
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func fmtBytes(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return clip(s, n)
}

// agentText says what an agent-loop activity decided, as a line under it.
func agentText(d *AgentDecision, a *Activity) string {
	who := d.Agent
	if who == "" {
		who = "agent"
	}
	spent := fmt.Sprintf("%d tokens", d.Tokens)
	if d.CostUSD > 0 {
		spent += fmt.Sprintf(", $%.6f", d.CostUSD)
	}
	switch {
	case d.Kind == "tool":
		return fmt.Sprintf("%s turn %d called %s on %s with %s → %s", who, d.Turn, a.Tool, a.Runtime, oneLine(d.Args, 160), oneLine(d.Result, 160))
	case len(d.Asked) > 0:
		return fmt.Sprintf("%s turn %d: the model asked for %s (%s)", who, d.Turn, strings.Join(d.Asked, ", "), spent)
	default:
		return fmt.Sprintf("%s turn %d: the model answered %s (%s)", who, d.Turn, oneLine(d.Answer, 160), spent)
	}
}
