package trace

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tars-engine/tars/workflows"
)

// WriteMermaid writes the trace as a Mermaid gantt chart: one section per
// agent (in the department → team → agent order of the tree), one bar per
// step from its start to its end, and for a step with several activities
// (foreach items, retries on another runtime after a hop) one bar per
// activity under it. Bars are done (ok), active (running, waiting) or crit
// (failed). Steps that never started are listed in a comment. A gantt
// shows what a flowchart cannot: time, overlap and waiting. The DAG itself
// is WriteMermaidFlow.
func WriteMermaid(w io.Writer, t *Trace) error {
	var b strings.Builder
	b.WriteString("gantt\n")
	fmt.Fprintf(&b, "    title %s · %s · %s\n", mermaidText(t.Metascript), mermaidText(orNone(t.WorkflowID)), t.Status)
	b.WriteString("    dateFormat x\n")
	if t.Duration.D() < time.Minute {
		b.WriteString("    axisFormat %M:%S.%L\n")
	} else {
		b.WriteString("    axisFormat %H:%M:%S\n")
	}
	end := t.Start.Add(t.Duration.D())
	n := 0
	var idle []string
	for _, a := range agentsInOrder(t) {
		name := a.ID
		if name == "" {
			name = "(no agent)"
		}
		section := false
		for _, id := range a.Steps {
			s := t.Step(id)
			if s == nil {
				continue
			}
			if s.Start.IsZero() {
				idle = append(idle, id+" ("+s.Status+")")
				continue
			}
			if !section {
				fmt.Fprintf(&b, "    section %s\n", mermaidText(name))
				section = true
			}
			label := s.ID
			if s.Runtime != "" {
				label += " · " + s.Runtime
			}
			if s.Attempts > len(s.Activities) {
				label += fmt.Sprintf(" · %d attempts", s.Attempts)
			}
			if len(s.Hops) > 0 {
				label += fmt.Sprintf(" · %d hops", len(s.Hops))
			}
			se := s.Start.Add(s.Duration.D())
			if s.End.IsZero() && !workflows.Terminal(s.Status) {
				se = end
			}
			n++
			writeBar(&b, label, ganttTag(s.Status), n, s.Start, se)
			if len(s.Activities) > 1 {
				for _, act := range s.Activities {
					ae := act.Closed
					if ae.IsZero() {
						ae = end
					}
					tag := "done"
					switch {
					case act.Failed():
						tag = "crit"
					case act.Closed.IsZero():
						tag = "active"
					}
					n++
					writeBar(&b, "  "+act.ActivityID, tag, n, act.Scheduled, ae)
				}
			}
		}
	}
	if len(idle) > 0 {
		fmt.Fprintf(&b, "    %%%% not started: %s\n", strings.Join(idle, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBar(b *strings.Builder, label, tag string, n int, start, end time.Time) {
	if !end.After(start) {
		end = start.Add(time.Millisecond) // keep instant steps visible
	}
	if tag != "" {
		tag += ", "
	}
	fmt.Fprintf(b, "    %s :%st%d, %d, %d\n", mermaidText(label), tag, n, start.UnixMilli(), end.UnixMilli())
}

func ganttTag(status string) string {
	switch status {
	case workflows.StatusOK, workflows.StatusHandled:
		return "done"
	case workflows.StatusFailed, RunTerminated, RunTimedOut, RunCanceled:
		return "crit"
	case workflows.StatusRunning, workflows.StatusWaiting, workflows.StatusPaused:
		return "active"
	}
	return ""
}

// WriteMermaidFlow writes the run's DAG as a Mermaid flowchart: one
// subgraph per agent, one node per step labelled with its runtime,
// duration and attempts, coloured by state, and an edge per need.
func WriteMermaidFlow(w io.Writer, t *Trace) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	for i, s := range t.Steps {
		ids[s.ID] = fmt.Sprintf("s%d", i)
	}
	for i, a := range agentsInOrder(t) {
		name := a.ID
		if name == "" {
			name = "(no agent)"
		}
		fmt.Fprintf(&b, "    subgraph a%d[\"%s\"]\n", i, mermaidLabel(name))
		for _, id := range a.Steps {
			s := t.Step(id)
			label := s.ID + "<br/>" + s.Status
			if s.Runtime != "" {
				label += " · " + s.Runtime
			}
			if s.Duration > 0 {
				label += " · " + fmtDur(s.Duration.D())
			}
			if s.Attempts > len(s.Activities) {
				label += fmt.Sprintf("<br/>%d attempts", s.Attempts)
			}
			for _, h := range s.Hops {
				label += "<br/>" + h.From + "→" + orNone(h.To)
			}
			fmt.Fprintf(&b, "        %s[\"%s\"]:::%s\n", ids[s.ID], mermaidLabel(label), s.Status)
		}
		b.WriteString("    end\n")
	}
	for _, s := range t.Steps {
		for _, need := range s.Needs {
			if from, ok := ids[need]; ok {
				fmt.Fprintf(&b, "    %s --> %s\n", from, ids[s.ID])
			}
		}
		if oe := s.OnError; oe != nil && oe.Step != "" {
			if to, ok := ids[oe.Step]; ok {
				fmt.Fprintf(&b, "    %s -.->|on_error| %s\n", ids[s.ID], to)
			}
		}
	}
	for _, c := range []struct{ state, style string }{
		{workflows.StatusPending, "fill:#f4f4f5,stroke:#a1a1aa,color:#3f3f46"},
		{workflows.StatusRunning, "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a"},
		{workflows.StatusWaiting, "fill:#fef3c7,stroke:#d97706,color:#78350f"},
		{workflows.StatusOK, "fill:#dcfce7,stroke:#16a34a,color:#14532d"},
		{workflows.StatusFailed, "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d"},
		{workflows.StatusSkipped, "fill:#fafafa,stroke:#d4d4d8,color:#71717a,stroke-dasharray:4 3"},
		{workflows.StatusHandled, "fill:#ffedd5,stroke:#ea580c,color:#7c2d12"},
		{workflows.StatusPaused, "fill:#ede9fe,stroke:#7c3aed,color:#4c1d95"},
		{RunTerminated, "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-dasharray:4 3"},
		{RunTimedOut, "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-dasharray:4 3"},
		{RunCanceled, "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-dasharray:4 3"},
	} {
		fmt.Fprintf(&b, "    classDef %s %s\n", c.state, c.style)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// agentsInOrder lists the tree's agents: department, team, agent.
func agentsInOrder(t *Trace) []*Agent {
	var out []*Agent
	for _, d := range t.Departments {
		for _, tm := range d.Teams {
			out = append(out, tm.Agents...)
		}
	}
	return out
}

// mermaidText makes s safe in a gantt line (":" separates fields, "#" and
// ";" start entities and comments).
func mermaidText(s string) string {
	return strings.NewReplacer(":", "꞉", "#", "♯", ";", ",", "\n", " ").Replace(s)
}

// mermaidLabel makes s safe in a quoted flowchart label.
func mermaidLabel(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}
