package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

var updateGolden = flag.Bool("update-golden", false,
	"write the histories of the golden runs to workflows/testdata/histories and the trace page screenshot to docs/trace-page.png")

const (
	goldenDir   = "../../workflows/testdata/histories"
	examplesDir = "../../metascripts/examples"
)

// hopPlan has a step whose chain is [cuda, native]; the test serves no cuda
// pool, so the step hops to native.
func hopPlan() *plan.Plan {
	return &plan.Plan{
		Schema: plan.SchemaVersion, Name: "fallback-hop", SHA256: "hand-built",
		Description: "A [cuda, native] step with no cuda pool falls back to native.",
		Agents:      []plan.Agent{{ID: "retriever", Role: "finds similar incidents", Department: "operations", Team: "incident-response"}},
		Steps: []plan.Step{
			{ID: "embed", Kind: plan.KindTool, Agent: "retriever", Runtimes: []string{"native"}, Tool: "echo",
				With: json.RawMessage(`{"value": [0.12, 0.8, 0.35]}`)},
			{ID: "similar", Kind: plan.KindTool, Agent: "retriever", Needs: []string{"embed"}, Runtimes: []string{"cuda", "native"},
				Tool: "echo", With: json.RawMessage(`{"value": {"query": "${steps.embed.output}", "k": 3}}`), ScheduleToStart: plan.Duration(5 * time.Second)},
		},
		Outputs: []plan.Output{{Name: "similar", Value: json.RawMessage(`"${steps.similar.output}"`)}},
	}
}

// childPlan calls two example metascripts as child runs (compiled into
// Plan.Children, as the compiler does for `call`), then waits for an
// approval that approves by itself after a second.
func childPlan(research, notes *plan.Plan) *plan.Plan {
	return &plan.Plan{
		Schema: plan.SchemaVersion, Name: "call-child", SHA256: "hand-built",
		Description: "Two child runs, a headline set in the workflow, and an approval that times out.",
		Agents: []plan.Agent{
			{ID: "summarizer", Role: "condenses long material", Department: "knowledge-management", Team: "library"},
			{ID: "release-manager", Role: "owns release notes", Department: "operations", Team: "release-management"},
		},
		Steps: []plan.Step{
			{ID: "research", Kind: plan.KindCall, Agent: "summarizer",
				Call: &plan.Call{Metascript: "research-digest", Inputs: json.RawMessage(`{"topics": ["temporal replay", "cel determinism"], "max_words": 80}`)}},
			{ID: "notes", Kind: plan.KindCall, Agent: "release-manager",
				Call: &plan.Call{Metascript: "release-notes", Inputs: json.RawMessage(`{"release": "v1.4.0"}`)}},
			{ID: "headline", Kind: plan.KindSet, Needs: []string{"research", "notes"},
				Set: json.RawMessage(`"Week of v1.4.0: ${steps.research.output.topics} topics researched, notes ready"`)},
			{ID: "publish", Kind: plan.KindApproval, Needs: []string{"headline"},
				Approval: &plan.Approval{Prompt: "Publish ${steps.headline.output}?", Timeout: plan.Duration(time.Second), Default: "approve"}},
			{ID: "announce", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"publish", "headline"}, When: "steps.publish.approved",
				Runtimes: []string{"native"}, Tool: "echo", With: json.RawMessage(`{"value": "${steps.headline.output}"}`)},
		},
		Children: map[string]*plan.Plan{"research-digest": research, "release-notes": notes},
		Outputs:  []plan.Output{{Name: "announced", Value: json.RawMessage(`"${steps.announce.output}"`)}},
	}
}

// closedHistory fetches a closed run's history.
func closedHistory(t *testing.T, e *testEnv, wid string) *historypb.History {
	t.Helper()
	rh, err := tracepage.FetchHistory(context.Background(), e.c, wid, "")
	require.NoError(t, err)
	require.False(t, rh.Open, "run %s is still open", wid)
	return rh.History
}

func writeGolden(t *testing.T, name string, h *historypb.History) {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, trace.WriteHistory(&b, h))
	path := filepath.Join(goldenDir, name+".json")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	t.Logf("wrote %s (%d events, %d bytes)", path, len(h.Events), b.Len())
}

// TestTraceGoldenRuns runs the example metascripts (and a hand-built
// fallback) on the embedded server, checks their traces, replays their
// histories against this interpreter, drives the trace, history and replay
// commands, and with -update-golden records the histories that
// workflows/replay_test.go replays in CI.
func TestTraceGoldenRuns(t *testing.T) {
	// weekly-briefing writes and reads /tmp (its policy's grants).
	e := newTestEnvCeiling(t, activities.Ceiling{ReadDirs: []string{"/tmp"}, WriteDirs: []string{"/tmp"}}, "native")
	type run struct {
		name     string
		plan     *plan.Plan
		inputs   map[string]any
		children bool
		check    func(t *testing.T, tr *trace.Trace)
	}
	runs := []run{
		{name: "release-notes", plan: e.compile(filepath.Join(examplesDir, "release-notes.yaml")), inputs: map[string]any{"release": "v1.4.0"},
			check: func(t *testing.T, tr *trace.Trace) {
				for _, s := range tr.Steps {
					assert.Equal(t, workflows.StatusOK, s.Status, s.ID)
					for _, a := range s.Activities {
						assert.Equal(t, "native", a.Runtime, a.ActivityID)
						assert.Equal(t, e.g.queuePrefix+".native", a.TaskQueue)
						assert.NotEmpty(t, a.Identity)
					}
				}
				require.Contains(t, tr.Totals.Runtimes, "native")
				assert.Len(t, tr.Totals.Runtimes, 1)
			}},
		{name: "research-digest", plan: e.compile(filepath.Join(examplesDir, "research-digest.yaml")),
			check: func(t *testing.T, tr *trace.Trace) {
				flaky := tr.Step("flaky_index")
				require.Len(t, flaky.Activities, 1)
				assert.Equal(t, int32(3), flaky.Activities[0].Attempt)
				assert.Contains(t, flaky.Activities[0].LastFailure, "index warming up")
				assert.Equal(t, workflows.StatusOK, flaky.Status)
				assert.Len(t, tr.Step("sources").Activities, 3)
				assert.Positive(t, tr.Step("digest").Turns)
			}},
		{name: "call-child", plan: childPlan(e.compile(filepath.Join(examplesDir, "research-digest.yaml")), e.compile(filepath.Join(examplesDir, "release-notes.yaml"))),
			children: true,
			check: func(t *testing.T, tr *trace.Trace) {
				for _, id := range []string{"research", "notes"} {
					c := tr.Step(id).Child
					require.NotNil(t, c, id)
					assert.Equal(t, trace.RunCompleted, c.Status)
					assert.Equal(t, tr.WorkflowID+"/"+id, c.WorkflowID)
					assert.NotEmpty(t, c.RunID)
				}
				ap := tr.Step("publish").Approval
				require.NotNil(t, ap)
				assert.True(t, ap.TimedOut)
				assert.True(t, ap.Approved)
			}},
		{name: "weekly-briefing", plan: e.compile(filepath.Join(examplesDir, "weekly-briefing.yaml")),
			check: func(t *testing.T, tr *trace.Trace) {
				assert.Len(t, tr.Children, 2)
				for _, c := range tr.Children {
					assert.Equal(t, trace.RunCompleted, c.Status, c.Step)
				}
				require.NotNil(t, tr.Step("publish").Approval)
				assert.True(t, tr.Step("publish").Approval.TimedOut)
			}},
		{name: "fallback-hop", plan: hopPlan(),
			check: func(t *testing.T, tr *trace.Trace) {
				s := tr.Step("similar")
				require.Len(t, s.Hops, 1)
				assert.Equal(t, "cuda", s.Hops[0].From)
				assert.Equal(t, "native", s.Hops[0].To)
				assert.Equal(t, "native", s.Runtime)
				assert.Equal(t, workflows.StatusOK, s.Status)
			}},
	}
	ids := map[string]string{}
	for _, r := range runs {
		ids[r.name] = e.start(r.plan, r.inputs)
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			id := ids[r.name]
			_, err := e.result(id, 2*time.Minute)
			require.NoError(t, err)
			h := closedHistory(t, e, id)
			tr, err := trace.BuildHistory(h)
			require.NoError(t, err)
			assert.Equal(t, trace.RunCompleted, tr.Status)
			assert.Equal(t, id, tr.WorkflowID)
			r.check(t, tr)
			require.NoError(t, trace.Replay(h), "a history recorded just now must replay")
			if *updateGolden {
				writeGolden(t, r.name, h)
				if r.children {
					for _, c := range tr.Children {
						writeGolden(t, r.name+"--"+c.Step, closedHistory(t, e, c.WorkflowID))
					}
				}
			}
		})
	}

	// The commands, through cobra as a user runs them.
	tars := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--address", e.g.address, "--namespace", e.g.namespace, "--log-level", "error"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	cc := ids["call-child"]
	out, err := tars("trace", cc, "--children")
	require.NoError(t, err, out)
	assert.Contains(t, out, "call-child · "+cc)
	assert.Contains(t, out, "child research-digest · "+cc+"/research · completed")
	assert.Contains(t, out, "flaky_index@native  completed  attempt 3/3") // from the nested child trace
	assert.Contains(t, out, "no decision within 1s: default approved")

	file := filepath.Join(t.TempDir(), "hop.json")
	out, err = tars("history", "export", ids["fallback-hop"], "--file", file)
	require.NoError(t, err, out)
	out, err = tars("replay", file)
	require.NoError(t, err, out)
	assert.Regexp(t, `^replay ok: \d+ events\n$`, out)
	out, err = tars("replay", ids["research-digest"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "replay ok")
	out, err = tars("trace", file, "-o", "perfetto")
	require.NoError(t, err)
	var pf trace.PerfettoTrace
	require.NoError(t, json.Unmarshal([]byte(out), &pf))
	assert.NotEmpty(t, pf.TraceEvents)
	out, err = tars("trace", file)
	require.NoError(t, err)
	assert.Contains(t, out, "[cuda→native: no live pollers]")
	out, err = tars("trace", file, "-o", "mermaid")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "gantt\n"), out)
}

// livePlan stops at an approval with steps in every state: ok, running
// (a long sleep), waiting (the approval), pending (after it), skipped (a
// false `when`), failed (a tool that always fails, on_error continue),
// handled (a failure whose on_error ran a handler step), and a hop. The
// release-manager's lane has the longest label, "operations /
// release-management".
func livePlan() *plan.Plan {
	native := []string{"native"}
	return &plan.Plan{
		Schema: plan.SchemaVersion, Name: "trace-page-live", SHA256: "hand-built",
		Agents: []plan.Agent{
			{ID: "planner", Department: "engineering", Team: "platform"},
			{ID: "log-analyst", Department: "engineering", Team: "sre"},
			{ID: "retriever", Department: "research", Team: "search"},
			{ID: "reviewer", Department: "operations", Team: "change-board"},
			{ID: "release-manager", Department: "operations", Team: "release-management"},
		},
		Steps: []plan.Step{
			{ID: "plan", Kind: plan.KindTool, Agent: "planner", Runtimes: native, Tool: "echo", With: json.RawMessage(`{"value": "investigate"}`)},
			{ID: "scan", Kind: plan.KindTool, Agent: "log-analyst", Needs: []string{"plan"}, Runtimes: native, Tool: "echo",
				Foreach: `["api", "db", "cache"]`, With: json.RawMessage(`{"value": "${item}"}`)},
			{ID: "lint", Kind: plan.KindTool, Agent: "log-analyst", Needs: []string{"plan"}, Runtimes: native, Tool: "fail",
				With: json.RawMessage(`{"times": -1, "message": "lint is broken"}`), Retry: &plan.Retry{Attempts: 2, Backoff: plan.Duration(50 * time.Millisecond)},
				OnError: plan.OnError{Action: plan.OnErrorContinue}},
			{ID: "watch", Kind: plan.KindTool, Agent: "log-analyst", Needs: []string{"plan"}, Runtimes: native, Tool: "sleep",
				With: json.RawMessage(`{"duration": "10m"}`), Timeout: plan.Duration(15 * time.Minute)},
			{ID: "similar", Kind: plan.KindTool, Agent: "retriever", Needs: []string{"scan"}, Runtimes: []string{"cuda", "native"}, Tool: "echo",
				With: json.RawMessage(`{"value": [1, 2, 3]}`)},
			{ID: "notify", Kind: plan.KindTool, Agent: "planner", Needs: []string{"plan"}, When: "false", Runtimes: native, Tool: "echo"},
			{ID: "approve", Kind: plan.KindApproval, Agent: "reviewer", Needs: []string{"similar", "lint"},
				Approval: &plan.Approval{Prompt: "Apply the fix?"}},
			{ID: "fix", Kind: plan.KindTool, Agent: "planner", Needs: []string{"approve"}, Runtimes: native, Tool: "echo"},
			{ID: "check-notes", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"plan"}, Runtimes: native, Tool: "fail",
				With: json.RawMessage(`{"times": -1, "message": "notes are missing"}`), Retry: &plan.Retry{Attempts: 1},
				OnError: plan.OnError{Action: plan.OnErrorStep, Step: "draft-notes"}},
			{ID: "draft-notes", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"plan"}, Runtimes: native, Tool: "echo",
				With: json.RawMessage(`{"value": "draft"}`)},
		},
	}
}

var reStepElem = regexp.MustCompile(`<g class="step[^"]*" data-step="([^"]+)" data-state="([^"]+)" data-runtime="([^"]*)"`)

// TestTracePageChromium loads the trace page of a live run in headless
// Chromium and reads every step's state from the DOM, then takes a
// screenshot.
func TestTracePageChromium(t *testing.T) {
	chromium := needChromium(t)
	e := newTestEnv(t, "native")
	e.g.uiURL = "http://ui.example:8233"
	id := e.start(livePlan(), nil)
	t.Cleanup(func() { _ = e.c.TerminateWorkflow(context.Background(), id, "", "test over") })
	want := map[string]string{
		"plan": "ok", "scan": "ok", "lint": "failed", "watch": "running", "similar": "ok",
		"notify": "skipped", "approve": "waiting", "fix": "pending", "check-notes": "handled", "draft-notes": "ok",
	}
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		if err != nil {
			return false
		}
		for _, s := range st.Steps {
			if want[s.ID] != s.Status {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond)

	url, stop, err := startTracePage(e.g, "127.0.0.1", 0, nil)
	require.NoError(t, err)
	defer stop()
	page := url + "/?run=" + id

	browser := func(extra ...string) []byte {
		return headless(t, chromium, page, append([]string{"--virtual-time-budget=5000"}, extra...)...)
	}
	dom := string(browser("--dump-dom"))
	got := map[string]string{}
	runtimes := map[string]string{}
	for _, m := range reStepElem.FindAllStringSubmatch(dom, -1) {
		got[m[1]] = m[2]
		runtimes[m[1]] = m[3]
	}
	assert.Equal(t, want, got, "step states in the page's DOM")
	assert.Equal(t, "native", runtimes["similar"], "the hop moved similar to native")
	assert.Contains(t, dom, `data-event-url="http://ui.example:8233/namespaces/`+e.g.namespace+"/workflows/"+id+"/")
	assert.Contains(t, dom, `id="run-status" data-status="running"`)
	assert.Contains(t, dom, `data-run="`+id+`"`, "the run list shows the run")
	for _, agent := range []string{"planner", "log-analyst", "retriever", "reviewer", "release-manager"} {
		assert.Contains(t, dom, `<g class="lane" data-agent="`+agent+`"><title>`+agent, "the lane's full label on hover")
	}
	// Every lane label is drawn whole, in the page's own font: none reaches
	// past the head column into the steps (the page measures each label's
	// box after drawing), and the longest is there in full.
	assert.Contains(t, dom, `<title>release-manager — operations / release-management</title>`)
	assert.Regexp(t, `<text class="lane-sub"[^>]*>operations / release-management</text>|<tspan[^>]*>operations /</tspan><tspan[^>]*>release-management</tspan>`, dom)
	assert.Contains(t, dom, `data-lane-overflow="0"`, "no lane label overflows its head column")
	// The on_error edge from the failing step to its handler, taken.
	assert.Regexp(t, `<path class="edge on-error taken" data-from="check-notes" data-to="draft-notes" data-kind="on_error"`, dom)
	assert.Contains(t, dom, "on_error → draft-notes")

	shot := filepath.Join(t.TempDir(), "trace-page.png")
	browser("--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.Greater(t, len(b), 20_000, "a screenshot of the page, not a blank one")
	assert.Equal(t, []byte("\x89PNG"), b[:4])
	if *updateGolden {
		require.NoError(t, os.WriteFile("../../docs/trace-page.png", b, 0o644))
	}
	t.Logf("screenshot %s (%d bytes)", shot, len(b))

	// The API the page polls: the live state is merged into the trace.
	rh, err := tracepage.FetchHistory(context.Background(), e.c, id, "")
	require.NoError(t, err)
	tr, err := tracepage.BuildTrace(context.Background(), e.c, rh, false, 0)
	require.NoError(t, err)
	assert.True(t, tr.Live)
	assert.Equal(t, "Apply the fix?", tr.Step("approve").Prompt)
	assert.Equal(t, fmt.Sprint(2), fmt.Sprint(tr.Step("lint").Activities[0].Attempt))
}
