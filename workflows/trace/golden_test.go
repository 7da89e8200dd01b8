package trace

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/workflows"
)

// The golden histories were recorded from real runs on the embedded server
// (see cmd/tars/trace_e2e_test.go).
func goldenTrace(t *testing.T, name string) *Trace {
	t.Helper()
	h, err := ReadHistoryFile(filepath.Join("..", "testdata", "histories", name+".json"))
	require.NoError(t, err)
	tr, err := BuildHistory(h)
	require.NoError(t, err)
	return tr
}

func TestBuildNativeRun(t *testing.T) {
	tr := goldenTrace(t, "release-notes")
	assert.Equal(t, "release-notes", tr.Metascript)
	assert.Equal(t, RunCompleted, tr.Status)
	assert.NotEmpty(t, tr.WorkflowID)
	assert.NotEmpty(t, tr.RunID)
	assert.Equal(t, map[string]any{"release": "v1.4.0"}, tr.Inputs)
	assert.Positive(t, tr.Duration)
	ids := make([]string, len(tr.Steps))
	for i, s := range tr.Steps {
		ids[i] = s.ID
		assert.Equal(t, workflows.StatusOK, s.Status, s.ID)
		assert.False(t, s.Start.IsZero(), s.ID)
		for _, a := range s.Activities {
			assert.Equal(t, ActCompleted, a.Status)
			assert.Equal(t, "native", a.Runtime)
			assert.True(t, strings.HasSuffix(a.TaskQueue, ".native"), a.TaskQueue)
			assert.NotEmpty(t, a.Identity, "worker identity from ActivityTaskStarted")
			assert.Equal(t, int32(1), a.Attempt)
			assert.Positive(t, a.InputBytes)
			assert.Positive(t, a.OutputBytes)
			assert.False(t, a.Started.Before(a.Scheduled))
			assert.False(t, a.Closed.Before(a.Started))
			assert.NotZero(t, a.ScheduledEventID)
			assert.Greater(t, a.StartedEventID, a.ScheduledEventID)
			assert.Greater(t, a.ClosedEventID, a.StartedEventID)
		}
	}
	assert.Equal(t, []string{"grouped", "draft", "polish", "render", "verify"}, ids)
	// A set step runs in the workflow: no activity, but a state.
	assert.Empty(t, tr.Step("grouped").Activities)
	// The reason steps called the echo model, which reports tokens.
	draft := tr.Step("draft")
	require.Len(t, draft.Activities, 1)
	assert.Equal(t, "model.chat", draft.Activities[0].Tool)
	assert.Contains(t, draft.Activities[0].Metrics, "tokens")
	// `runtime: auto` asks which pools are live.
	assert.NotEmpty(t, tr.Probes)

	// Department → team → agent: every step is under its agent once.
	seen := map[string]int{}
	for _, d := range tr.Departments {
		for _, tm := range d.Teams {
			for _, a := range tm.Agents {
				for _, id := range a.Steps {
					seen[id]++
					assert.Equal(t, a.ID, tr.Step(id).Agent)
					assert.Equal(t, d.Name, tr.Step(id).Department)
				}
			}
		}
	}
	for _, id := range ids {
		assert.Equal(t, 1, seen[id], id)
	}
	rt := tr.Totals.Runtimes["native"]
	require.NotNil(t, rt)
	assert.Equal(t, tr.Totals.Run.Activities, rt.Activities)
	assert.Equal(t, 4, rt.Steps)
	assert.Equal(t, 0, rt.Failures)
	assert.Positive(t, rt.Busy)
	assert.Equal(t, 3, tr.Totals.Agents["release-manager"].Steps) // grouped is a set step: a step without activity
}

func TestBuildRetries(t *testing.T) {
	tr := goldenTrace(t, "research-digest")
	flaky := tr.Step("flaky_index")
	require.Len(t, flaky.Activities, 1, "Temporal records one scheduled activity for all its attempts")
	a := flaky.Activities[0]
	assert.Equal(t, int32(3), a.Attempt)
	assert.Equal(t, int32(3), a.MaxAttempts)
	assert.Contains(t, a.LastFailure, "index warming up", "the failure of attempt 2, from the Started event")
	assert.Equal(t, ActCompleted, a.Status)
	assert.Equal(t, 3, flaky.Attempts)
	assert.Equal(t, 2, flaky.Failures)
	assert.Equal(t, workflows.StatusOK, flaky.Status)
	assert.Equal(t, 2, tr.Totals.Agents["librarian"].Failures)

	sources := tr.Step("sources")
	require.Len(t, sources.Activities, 3)
	for i, a := range sources.Activities {
		assert.Equal(t, "item", a.Scope)
		assert.Equal(t, i, a.Index)
	}
	assert.Equal(t, 3, sources.Items)
	digest := tr.Step("digest")
	assert.Positive(t, digest.Turns)
	assert.Len(t, digest.Activities, digest.Turns)
	for i, a := range digest.Activities {
		assert.Equal(t, "turn", a.Scope)
		assert.Equal(t, i, a.Index)
	}
}

func TestBuildChildrenAndApproval(t *testing.T) {
	tr := goldenTrace(t, "call-child")
	require.Len(t, tr.Children, 2)
	for _, id := range []string{"research", "notes"} {
		s := tr.Step(id)
		require.NotNil(t, s.Child, id)
		c := s.Child
		assert.Equal(t, id, c.Step)
		assert.Equal(t, tr.WorkflowID+"/"+id, c.WorkflowID)
		assert.NotEmpty(t, c.RunID)
		assert.Equal(t, RunCompleted, c.Status)
		assert.Positive(t, c.InputBytes)
		assert.Positive(t, c.OutputBytes)
		assert.Equal(t, c.EventID, s.EventID)
		assert.Equal(t, workflows.StatusOK, s.Status)
	}
	assert.Equal(t, "research-digest", tr.Step("research").Child.WorkflowType)
	ap := tr.Step("publish").Approval
	require.NotNil(t, ap)
	assert.True(t, ap.TimedOut)
	assert.True(t, ap.Approved, "default: approve")
	assert.Equal(t, "default", ap.By)
	assert.NotZero(t, ap.TimerEventID)
	assert.Equal(t, "1s", ap.Timeout.D().String())
	assert.Equal(t, workflows.StatusOK, tr.Step("announce").Status)

	// The child's own history, recorded beside it, names its parent.
	child := goldenTrace(t, "call-child--research")
	require.NotNil(t, child.Parent)
	assert.Equal(t, tr.WorkflowID, child.Parent.WorkflowID)
	assert.Equal(t, "research-digest", child.Metascript)
}

func TestBuildFallbackHop(t *testing.T) {
	tr := goldenTrace(t, "fallback-hop")
	s := tr.Step("similar")
	require.Len(t, s.Hops, 1)
	h := s.Hops[0]
	assert.Equal(t, Hop{Step: "similar", From: "cuda", To: "native", Reason: "no live pollers", EventID: h.EventID, Time: h.Time}, h)
	assert.NotZero(t, h.EventID)
	require.Len(t, s.Activities, 1)
	assert.Equal(t, "native", s.Activities[0].Runtime)
	assert.Equal(t, "native", s.Runtime)
	assert.Equal(t, []string{"cuda", "native"}, s.Chain)
	assert.Equal(t, 1, tr.Totals.Run.Hops)
	assert.Equal(t, 1, tr.Totals.Agents["retriever"].Hops)
	assert.NotEmpty(t, tr.Probes, "the chain has two runtimes, so the interpreter asked which are live")
	assert.Equal(t, []*Hop{&h}, []*Hop{&tr.Hops[0]})
}

// Without a result (a failed or open run), states come from the events.
func TestBuildDerivesStatesWithoutResult(t *testing.T) {
	h, err := ReadHistoryFile(filepath.Join("..", "testdata", "histories", "research-digest.json"))
	require.NoError(t, err)
	// Cut the history just after flaky_index's activity was scheduled.
	var cut int
	for i, e := range h.Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityId() == "flaky_index@native" {
			cut = i + 1
			break
		}
	}
	require.NotZero(t, cut)
	tr, err := Build(h.Events[:cut])
	require.NoError(t, err)
	assert.Equal(t, RunRunning, tr.Status)
	assert.Equal(t, workflows.StatusRunning, tr.Step("flaky_index").Status)
	assert.Equal(t, workflows.StatusPending, tr.Step("digest").Status)
	assert.Equal(t, ActScheduled, tr.Step("flaky_index").Activities[0].Status)
}

func TestPerfetto(t *testing.T) {
	for _, name := range []string{"release-notes", "research-digest", "call-child", "fallback-hop"} {
		t.Run(name, func(t *testing.T) {
			tr := goldenTrace(t, name)
			var b bytes.Buffer
			require.NoError(t, WritePerfetto(&b, tr))
			var doc struct {
				TraceEvents []map[string]any `json:"traceEvents"`
			}
			require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
			type span struct{ ts, end float64 }
			threads := map[[2]float64][]span{}
			procs := map[string]bool{}
			activities := 0
			for _, e := range doc.TraceEvents {
				switch e["ph"] {
				case "X":
					ts, ok := e["ts"].(float64)
					require.True(t, ok, "X event without ts: %v", e)
					dur, ok := e["dur"].(float64)
					require.True(t, ok, "X event without dur: %v", e)
					assert.GreaterOrEqual(t, ts, 0.0)
					assert.GreaterOrEqual(t, dur, 0.0)
					k := [2]float64{e["pid"].(float64), e["tid"].(float64)}
					threads[k] = append(threads[k], span{ts, ts + dur})
					if e["cat"] == "activity" {
						activities++
						assert.Contains(t, e["args"], "activity_id")
					}
				case "M":
					if e["name"] == "process_name" {
						procs[e["args"].(map[string]any)["name"].(string)] = true
					}
				}
			}
			assert.Equal(t, tr.Totals.Run.Activities, activities, "one slice per activity")
			assert.True(t, procs["runtime native"], "%v", procs)
			for _, s := range tr.Steps {
				if s.Agent != "" && !s.Start.IsZero() {
					assert.True(t, procs["agent "+s.Agent], "agent %s: %v", s.Agent, procs)
				}
			}
			// Slices on one thread never overlap, so Perfetto nests nothing
			// it should not.
			for k, spans := range threads {
				sort.Slice(spans, func(i, j int) bool { return spans[i].ts < spans[j].ts })
				for i := 1; i < len(spans); i++ {
					assert.LessOrEqual(t, spans[i-1].end, spans[i].ts+0.001, "overlap on thread %v", k)
				}
			}
		})
	}
}

var reGanttBar = regexp.MustCompile(`^    [^:]+ :((done|crit|active), )?t\d+, \d{13}, \d{13}$`)

func TestMermaid(t *testing.T) {
	tr := goldenTrace(t, "research-digest")
	var b bytes.Buffer
	require.NoError(t, WriteMermaid(&b, tr))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Equal(t, "gantt", lines[0])
	assert.Contains(t, lines, "    dateFormat x")
	sections, bars := 0, 0
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "    section "):
			sections++
		case strings.HasPrefix(l, "    title "), strings.HasPrefix(l, "    dateFormat "), strings.HasPrefix(l, "    axisFormat "), strings.HasPrefix(l, "    %%"):
		default:
			bars++
			assert.Regexp(t, reGanttBar, l)
		}
	}
	assert.Equal(t, 5, sections, "one section per agent, and one for steps without:\n%s", b.String())
	// Every step that ran has a bar, and each of its activities one more
	// when it has several (foreach items, loop turns).
	want := 0
	for _, s := range tr.Steps {
		want++
		if len(s.Activities) > 1 {
			want += len(s.Activities)
		}
	}
	assert.Equal(t, want, bars, b.String())

	b.Reset()
	require.NoError(t, WriteMermaidFlow(&b, tr))
	out := b.String()
	assert.True(t, strings.HasPrefix(out, "flowchart LR\n"))
	edges := 0
	for _, s := range tr.Steps {
		edges += len(s.Needs)
	}
	assert.Equal(t, edges, strings.Count(out, " --> "))
	assert.Equal(t, 5, strings.Count(out, "    subgraph "), out) // four agents and the step without one
	assert.Contains(t, out, `["flaky_index<br/>ok · native`)
	assert.Contains(t, out, ":::ok")
}

func TestTreeAndJSON(t *testing.T) {
	tr := goldenTrace(t, "fallback-hop")
	var b bytes.Buffer
	require.NoError(t, WriteTree(&b, tr))
	out := b.String()
	t.Log("\n" + out)
	assert.True(t, strings.HasPrefix(out, "fallback-hop · "+tr.WorkflowID+" · run "), out)
	assert.Contains(t, out, "department operations")
	assert.Contains(t, out, "team incident-response")
	assert.Contains(t, out, "agent retriever (finds similar incidents)")
	assert.Contains(t, out, "✓ similar  ok  echo on native")
	assert.Contains(t, out, "[cuda→native: no live pollers]")
	assert.Contains(t, out, "similar@native  completed  attempt 1/3")
	assert.Contains(t, out, "totals by runtime")
	// Each tool activity shows the start of its output, without the
	// result's {"output": wrapper.
	a := tr.Steps[1].Activities[0]
	require.NotEmpty(t, a.OutputPreview)
	assert.False(t, strings.HasPrefix(a.OutputPreview, `{"output":`), a.OutputPreview)
	assert.Contains(t, out, "out: "+oneLine(a.OutputPreview, 120))

	b.Reset()
	require.NoError(t, WriteJSON(&b, tr))
	var back Trace
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, tr.Steps[1].Hops, back.Steps[1].Hops)
	assert.Equal(t, tr.Totals, back.Totals)
	assert.Equal(t, tr.Steps[1].Activities[0].Ran, back.Steps[1].Activities[0].Ran)
}
