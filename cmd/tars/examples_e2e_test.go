package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// Every example that needs only the native pool runs to completion on the
// real embedded server, with the outputs it promises, and its history
// shows each activity on the queue its runtime names.
func TestExamplesRunOnNativePool(t *testing.T) {
	// weekly-briefing writes and reads /tmp (its policy's grants).
	e := newTestEnvCeiling(t, activities.Ceiling{ReadDirs: []string{"/tmp"}, WriteDirs: []string{"/tmp"}}, "native")
	cases := []struct {
		file   string
		inputs map[string]any
		check  func(t *testing.T, out map[string]any)
	}{
		{"release-notes", map[string]any{"release": "v9.9.9"}, func(t *testing.T, out map[string]any) {
			assert.EqualValues(t, 3, out["changes"])
			assert.Equal(t, true, out["breaking"])
			notes, _ := out["notes"].(string)
			assert.True(t, strings.HasPrefix(notes, "# v9.9.9\n"), "notes: %q", notes)
			assert.Contains(t, notes, "Remove the v0 plan format")
		}},
		{"research-digest", map[string]any{"topics": []any{"replay", "sandboxes"}}, func(t *testing.T, out map[string]any) {
			assert.Equal(t, "ok", out["index"], "the flaky index succeeds on its third attempt")
			assert.EqualValues(t, 2, out["topics"])
			assert.NotEmpty(t, out["digest"])
		}},
		{"weekly-briefing", map[string]any{"release": "v2.0.0"}, func(t *testing.T, out map[string]any) {
			assert.Equal(t, "Week of v2.0.0: 2 topics researched, notes ready", out["headline"])
			assert.Equal(t, true, out["published"], "the approval defaults to approve after 2s")
			assert.Greater(t, out["archived"], float64(0))
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			p := e.compile("../../metascripts/examples/" + c.file + ".yaml")
			id := e.start(p, c.inputs)
			res, err := e.result(id, 2*time.Minute)
			require.NoError(t, err)
			c.check(t, res.Outputs)
			for _, s := range res.Steps {
				assert.Contains(t, []string{workflows.StatusOK, workflows.StatusSkipped}, s.Status, "step %s: %s", s.ID, s.Error)
			}
			for tool, queues := range activityQueues(t, e.c, id) {
				for _, q := range queues {
					if tool == "tars.pollers" {
						assert.Equal(t, e.g.queuePrefix+".workflows", q)
						continue
					}
					assert.Equal(t, e.g.queuePrefix+".native", q, "tool %s", tool)
				}
			}
		})
	}
}

// Sandboxed pools end to end: WASM tools run on tars.wasm, hyperlight
// guests on tars.hyperlight, and the incident triage spans four runtimes.
func TestExamplesOnSandboxPools(t *testing.T) {
	pools := []string{"native", "wasm"}
	kvmErr := kvm.Check()
	if kvmErr == nil {
		pools = append(pools, "hyperlight")
	}
	// The default ceiling: incident-triage's policy asks for env and a
	// host that none of its tools use, so every step still runs.
	e := newTestEnv(t, pools...)
	needKVM := func(t *testing.T) {
		if kvmErr != nil {
			t.Skipf("needs the hyperlight pool, and this host cannot run micro-VMs: %v", kvmErr)
		}
	}
	t.Run("data-quality on wasm", func(t *testing.T) {
		p := e.compile("../../metascripts/examples/data-quality.yaml")
		id := e.start(p, nil)
		res, err := e.result(id, 2*time.Minute)
		require.NoError(t, err)
		assert.NotNil(t, res.Outputs["stats"])
		queues := activityQueues(t, e.c, id)
		require.NotEmpty(t, queues["json-check"])
		for _, q := range queues["json-check"] {
			assert.Equal(t, e.g.queuePrefix+".wasm", q)
		}
	})
	t.Run("secure-exec on hyperlight", func(t *testing.T) {
		needKVM(t)
		p := e.compile("../../metascripts/examples/secure-exec.yaml")
		payload := `{"action":"restart","service":"db"}`
		id := e.start(p, map[string]any{"payload": payload})
		res, err := e.result(id, 2*time.Minute)
		require.NoError(t, err)
		sum := sha256.Sum256([]byte(payload))
		assert.Contains(t, fmt.Sprint(res.Outputs["sha256"]), hex.EncodeToString(sum[:]))
		for _, q := range activityQueues(t, e.c, id)["sha256"] {
			assert.Equal(t, e.g.queuePrefix+".hyperlight", q)
		}
	})
	t.Run("incident-triage across runtimes", func(t *testing.T) {
		needKVM(t)
		p := e.compile("../../metascripts/examples/incident-triage.yaml")
		id := e.start(p, map[string]any{"incident": "db latency"})
		require.Eventually(t, func() bool {
			st, err := queryState(context.Background(), e.c, id)
			return err == nil && st.Steps[3].Status == workflows.StatusWaiting
		}, time.Minute, 100*time.Millisecond, "the approval step waits for a decision")
		require.NoError(t, e.c.SignalWorkflow(context.Background(), id, "", workflows.SignalApprove,
			workflows.Decision{Step: "approve", Approved: true, By: "e2e"}))
		res, err := e.result(id, 2*time.Minute)
		require.NoError(t, err)
		assert.Equal(t, true, res.Outputs["fixed"])
		q := activityQueues(t, e.c, id)
		assert.Equal(t, []string{e.g.queuePrefix + ".wasm", e.g.queuePrefix + ".wasm"}, q["log-scan"])
		assert.Equal(t, []string{e.g.queuePrefix + ".native"}, q["vector.topk"], "no cuda pool: the step falls back to native")
		assert.Equal(t, []string{e.g.queuePrefix + ".hyperlight"}, q["policy-check"])
		var hops []workflows.Hop
		for _, s := range res.Steps {
			hops = append(hops, s.Hops...)
		}
		assert.Equal(t, []workflows.Hop{{Step: "similar", From: "cuda", To: "native", Reason: "no live pollers"}}, hops)
	})
}

func routingPlan(id string, runtimes []string, floor string, auto bool) *plan.Plan {
	return &plan.Plan{Schema: plan.SchemaVersion, Name: "routing-" + id, SHA256: "test", Steps: []plan.Step{{
		ID: id, Kind: plan.KindTool, Tool: "vector.topk", Runtimes: runtimes, MinIsolation: floor, Auto: auto,
		ScheduleToStart: plan.Duration(2 * time.Second),
		With:            json.RawMessage(`{"query":[1,0],"vectors":[[1,0],[0,1]],"k":1}`),
	}}, Outputs: []plan.Output{{Name: "best", Value: json.RawMessage(fmt.Sprintf(`"${steps.%s.output.indices[0]}"`, id))}}}
}

// Routing with fallback chains on the real server (issue 6).
func TestRoutingFallbackOnServer(t *testing.T) {
	e := newTestEnv(t, "native")
	t.Run("[cuda, native] completes on native and the history shows the hop", func(t *testing.T) {
		id := e.start(routingPlan("similar", []string{"cuda", "native"}, "", false), nil)
		res, err := e.result(id, time.Minute)
		require.NoError(t, err)
		assert.EqualValues(t, 0, res.Outputs["best"])
		assert.Equal(t, "native", res.Steps[0].Runtime)
		found := false
		for _, ev := range history(t, e.c, id) {
			if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "SideEffect" {
				for _, p := range m.GetDetails()["data"].GetPayloads() {
					var h workflows.Hop
					if json.Unmarshal(p.GetData(), &h) == nil && h.From == "cuda" && h.To == "native" {
						found = true
					}
				}
			}
		}
		assert.True(t, found, "a hop marker cuda -> native is in the history")
	})
	t.Run("a stale poller is passed by after schedule-to-start", func(t *testing.T) {
		// Only cuda is named: no live pollers, so the step waits its 2s on
		// cuda and fails listing what it tried, never running elsewhere.
		id := e.start(routingPlan("gpu", []string{"cuda"}, "", false), nil)
		_, err := e.result(id, time.Minute)
		require.Error(t, err)
		assert.Contains(t, workflows.Describe(err), "no pool could run tool vector.topk: tried cuda (not started within 2s)")
	})
	t.Run("hyperlight-only with no hyperlight pool fails and never runs elsewhere", func(t *testing.T) {
		p := routingPlan("exec", []string{"hyperlight", "native"}, plan.IsolationHardware, false)
		p.Steps[0].Tool = "sha256"
		id := e.start(p, nil)
		_, err := e.result(id, time.Minute)
		require.Error(t, err)
		assert.Contains(t, workflows.Describe(err), "tried hyperlight (not started within 2s)")
		assert.NotContains(t, workflows.Describe(err), "native")
		q := activityQueues(t, e.c, id)
		assert.Equal(t, []string{e.g.queuePrefix + ".hyperlight"}, q["sha256"])
	})
	t.Run("auto goes to a live pool", func(t *testing.T) {
		id := e.start(routingPlan("anywhere", []string{"cuda", "native"}, "", true), nil)
		res, err := e.result(id, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "native", res.Steps[0].Runtime)
		assert.Equal(t, []string{e.g.queuePrefix + ".native"}, activityQueues(t, e.c, id)["vector.topk"])
	})
}

// tars plan --explain asks the server which pools are live and says where
// each step would go now, and why.
func TestPlanExplainOnServer(t *testing.T) {
	e := newTestEnv(t, "native", "wasm")
	e.waitLive("native", "wasm")
	live, err := e.g.livePools(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"native": true, "wasm": true, "hyperlight": false, "cuda": false}, live)
	p := e.compile("../../metascripts/examples/incident-triage.yaml")
	var out strings.Builder
	explainPlan(&out, p, live, nil, true)
	text := out.String()
	assert.Contains(t, text, "live pools: native, wasm")
	for _, want := range []string{
		"similar  tool vector.topk   retriever    cuda → native  process   native      first live runtime in chain; skipped cuda has no pollers",
		"scan     tool log-scan      log-analyst  wasm           process   wasm        first live runtime in chain",
		"fix      tool policy-check  remediator   hyperlight     hardware  hyperlight  no live pool yet",
	} {
		assert.Contains(t, text, want)
	}
}
