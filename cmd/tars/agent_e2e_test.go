package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// agentModel is an OpenAI-compatible chat-completions server over real
// HTTP: its first answer calls log-scan, its second answers in JSON.
func agentModel(t *testing.T) (*httptest.Server, func() []map[string]any) {
	var mu sync.Mutex
	var reqs []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		mu.Lock()
		reqs = append(reqs, req)
		n := len(reqs)
		mu.Unlock()
		msg := map[string]any{"role": "assistant", "content": `{"summary": "db timeouts on api", "action": "restart service/api"}`}
		if n == 1 {
			msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
				"id": "call_1", "type": "function", "function": map[string]any{"name": "wasm_log-scan",
					"arguments": `{"service": "api", "lines": ["ERROR db timeout after 30ms", "ERROR db timeout after 35ms"]}`}}}}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": fmt.Sprint("chatcmpl-", n), "object": "chat.completion", "model": "gpt-4o-mini",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []map[string]any { mu.Lock(); defer mu.Unlock(); return append([]map[string]any(nil), reqs...) }
}

// TestAgentE2E runs a planner agent that calls a wasm tool through an
// OpenAI-compatible server on the embedded Temporal server, a person
// approves its plan, and the trace shows the agent's decisions. With
// -update-golden it records workflows/testdata/histories/agent-loop.json.
func TestAgentE2E(t *testing.T) {
	pools := []string{"native", "wasm"}
	if kvm.Check() == nil {
		pools = append(pools, "hyperlight")
	}
	// The model server listens on 127.0.0.1, which the metascript's policy
	// grants and the worker's operator allows.
	e := newTestEnvCeiling(t, activities.Ceiling{HTTPHosts: []string{"127.0.0.1"}}, pools...)
	srv, requests := agentModel(t)
	src := fmt.Sprintf(`metascript: agent-loop
agents:
  - id: planner
    model: {provider: openai, name: gpt-4o-mini, endpoint: "%s/v1", max_tokens: 512}
    tools: [wasm:log-scan]
policy:
  budgets: {tokens: 5000, usd: 0.01}
  grants: {http_hosts: ["127.0.0.1"]}
steps:
  - id: investigate
    agent: planner
    isolation: sandbox
    reason:
      prompt: Investigate the api errors; answer with JSON {summary, action}.
      tools: [wasm:log-scan]
      max_turns: 3
      output: {schema: {type: object, required: [summary, action]}}
  - id: approve
    needs: [investigate]
    approval: {prompt: "Apply ${steps.investigate.output.action}?", timeout: 1h}
outputs:
  plan: ${steps.investigate.output}
  approved: ${steps.approve.approved}
`, srv.URL)
	file := filepath.Join(t.TempDir(), "agent-loop.yaml")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))
	id := e.start(e.compile(file), nil)
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && st.Steps[1].Status == workflows.StatusWaiting
	}, time.Minute, 100*time.Millisecond, "the approval waits for a person")
	require.NoError(t, e.c.SignalWorkflow(context.Background(), id, "", workflows.SignalApprove,
		workflows.Decision{Step: "approve", Approved: true, By: "e2e"}))
	res, err := e.result(id, 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"summary": "db timeouts on api", "action": "restart service/api"}, res.Outputs["plan"])
	assert.Equal(t, true, res.Outputs["approved"])
	require.Len(t, requests(), 2)
	assert.Contains(t, fmt.Sprint(requests()[1]["messages"]), `"errors":2`, "log-scan's real result went back to the model")

	h := closedHistory(t, e, id)
	tr, err := trace.BuildHistory(h)
	require.NoError(t, err)
	acts := tr.Step("investigate").Activities
	require.Len(t, acts, 3)
	assert.Equal(t, []string{"wasm_log-scan"}, acts[0].Agent.Asked)
	assert.Equal(t, 70, acts[0].Agent.Tokens)
	assert.InDelta(t, (50*0.15+20*0.60)/1e6, acts[0].Agent.CostUSD, 1e-12)
	assert.Equal(t, "wasm", acts[1].Runtime)
	assert.Equal(t, "log-scan", acts[1].Tool)
	require.NotNil(t, acts[1].Agent)
	assert.Equal(t, "tool", acts[1].Agent.Kind)
	assert.Contains(t, acts[1].Agent.Result, `"errors":2`)
	assert.Equal(t, 2, acts[2].Agent.Turn)
	assert.Contains(t, acts[2].Agent.Answer, "restart service/api")
	require.NoError(t, trace.Replay(h), "a history recorded just now must replay")
	if *updateGolden {
		writeGolden(t, "agent-loop", h)
	}

	tars := func(args ...string) string {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--address", e.g.address, "--namespace", e.g.namespace, "--log-level", "error"}, args...))
		require.NoError(t, root.Execute(), out.String())
		return out.String()
	}
	out := tars("trace", id)
	assert.Contains(t, out, "planner turn 1: the model asked for wasm_log-scan (70 tokens, $0.000019)")
	assert.Contains(t, out, "planner turn 1 called log-scan on wasm with {\"service\":\"api\"")
	assert.Contains(t, out, "planner turn 2: the model answered")
	out = tars("status", id)
	assert.Contains(t, out, "spent: tokens 140 · usd ")

	t.Run("agent-triage example with the echo model", func(t *testing.T) {
		id := e.start(e.compile(filepath.Join(examplesDir, "agent-triage.yaml")), nil)
		if kvm.Check() != nil {
			_, err := e.result(id, 3*time.Minute)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "no pool could run tool policy-check: tried hyperlight")
			t.Skipf("the rest needs the hyperlight pool: %v", kvm.Check())
		}
		require.Eventually(t, func() bool {
			st, err := queryState(context.Background(), e.c, id)
			return err == nil && st.Steps[1].Status == workflows.StatusWaiting
		}, time.Minute, 100*time.Millisecond)
		require.NoError(t, e.c.SignalWorkflow(context.Background(), id, "", workflows.SignalApprove,
			workflows.Decision{Step: "approve", Approved: true, By: "e2e"}))
		res, err := e.result(id, 2*time.Minute)
		require.NoError(t, err)
		assert.Equal(t, true, res.Outputs["approved"])
	})
}
