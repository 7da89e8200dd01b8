package workflows

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tars-engine/tars/plan"
)

// The Web UI's details are a markdown list, one item a step: the UI draws
// tables without cell padding (issue 18).
func TestDetailsIsAListNotATable(t *testing.T) {
	p := &plan.Plan{Name: "triage", Version: "1.2", SHA256: "0123456789abcdef", Steps: []plan.Step{
		{ID: "plan", Kind: plan.KindReason, Agent: "planner", Tool: "model.chat", Runtimes: []string{"native"}},
		{ID: "scan", Kind: plan.KindTool, Agent: "log-analyst", Tool: "log-scan", Runtimes: []string{"wasm", "native"}, Needs: []string{"plan"},
			OnError: plan.OnError{Action: plan.OnErrorStep, Step: "fallback"}},
		{ID: "fallback", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"}},
		{ID: "approve", Kind: plan.KindApproval, Needs: []string{"scan", "fallback"}, OnError: plan.OnError{Action: plan.OnErrorContinue}},
	}}
	d := Details(p)
	digest, err := plan.Digest(p)
	assert.NoError(t, err)
	assert.Equal(t, "**triage** v1.2 · plan "+plan.ShortDigest(digest)+" · 4 steps\n\n"+
		"- **plan** — reason model.chat · agent planner · on native\n"+
		"- **scan** — tool log-scan · agent log-analyst · on wasm → native · after plan · on error: fallback\n"+
		"- **fallback** — tool echo · on native\n"+
		"- **approve** — approval · after scan, fallback · on error: continue\n", d)
	assert.NotContains(t, d, "|", "no table")
	assert.Equal(t, len(p.Steps), strings.Count(d, "\n- "))
}
