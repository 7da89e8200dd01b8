package metascripts

import (
	"fmt"
	"strings"

	"github.com/tars-engine/tars/plan"
)

// Graph draws a Plan's DAG as a Mermaid flowchart: one node per step,
// labelled with its kind, tool and runtime chain, steps grouped in a
// subgraph per agent, edges for needs and dotted edges for on_error
// handlers. The output is deterministic (Plan order).
func Graph(p *plan.Plan) string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	byAgent := map[string][]*plan.Step{}
	var loose []*plan.Step
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.Agent != "" && p.Agent(s.Agent) != nil {
			byAgent[s.Agent] = append(byAgent[s.Agent], s)
		} else {
			loose = append(loose, s)
		}
	}
	for _, a := range p.Agents {
		steps := byAgent[a.ID]
		if len(steps) == 0 {
			continue
		}
		label := a.ID
		if a.Department != "" || a.Team != "" {
			label += " · " + strings.Trim(a.Department+"/"+a.Team, "/")
		}
		fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n", mermaidID("agent_", a.ID), mermaidText(label))
		for _, s := range steps {
			b.WriteString("    " + stepNode(s) + "\n")
		}
		b.WriteString("  end\n")
	}
	for _, s := range loose {
		b.WriteString("  " + stepNode(s) + "\n")
	}
	for _, s := range p.Steps {
		for _, n := range s.Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", mermaidID("s_", n), mermaidID("s_", s.ID))
		}
	}
	for _, s := range p.Steps {
		if s.OnError.Action == plan.OnErrorStep {
			fmt.Fprintf(&b, "  %s -. on_error .-> %s\n", mermaidID("s_", s.ID), mermaidID("s_", s.OnError.Step))
		}
	}
	return b.String()
}

func stepNode(s *plan.Step) string {
	var parts []string
	switch s.Kind {
	case plan.KindTool:
		parts = append(parts, "tool "+s.Tool)
	case plan.KindCall:
		if s.Call != nil {
			parts = append(parts, "call "+s.Call.Metascript)
		}
	default:
		parts = append(parts, s.Kind)
	}
	if len(s.Runtimes) > 0 {
		chain := strings.Join(s.Runtimes, " → ")
		if s.Auto {
			chain = "auto: " + strings.Join(s.Runtimes, ", ")
		}
		if s.MinIsolation != "" {
			chain += " (≥ " + s.MinIsolation + ")"
		}
		parts = append(parts, chain)
	}
	var flags []string
	if s.Foreach != "" {
		f := "foreach"
		if s.Concurrency > 0 {
			f += fmt.Sprintf(" ×%d", s.Concurrency)
		}
		flags = append(flags, f)
	}
	if s.While != nil {
		flags = append(flags, fmt.Sprintf("while ≤%d", s.While.Max))
	}
	if s.When != "" {
		flags = append(flags, "when")
	}
	if len(flags) > 0 {
		parts = append(parts, strings.Join(flags, ", "))
	}
	label := mermaidText(s.ID + "<br/>" + strings.Join(parts, "<br/>"))
	id := mermaidID("s_", s.ID)
	switch s.Kind {
	case plan.KindReason:
		return fmt.Sprintf("%s(\"%s\")", id, label)
	case plan.KindApproval:
		return fmt.Sprintf("%s{\"%s\"}", id, label)
	case plan.KindSet:
		return fmt.Sprintf("%s[/\"%s\"/]", id, label)
	case plan.KindCall:
		return fmt.Sprintf("%s[[\"%s\"]]", id, label)
	}
	return fmt.Sprintf("%s[\"%s\"]", id, label)
}

func mermaidID(prefix, s string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range s {
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func mermaidText(s string) string { return strings.ReplaceAll(s, `"`, "#quot;") }
