package trace

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

// The agent-loop history is a planner that called log-scan on wasm
// through an OpenAI-compatible server, then answered (cmd/tars
// TestAgentE2E). The trace shows each decision: who called what, where it
// ran, what came back.
func TestAgentLoopDecisions(t *testing.T) {
	tr := goldenTrace(t, "agent-loop")
	s := tr.Step("investigate")
	require.NotNil(t, s)
	require.Len(t, s.Activities, 3)
	model1, scan, model2 := s.Activities[0], s.Activities[1], s.Activities[2]
	assert.Equal(t, "investigate:t1@native", model1.ActivityID)
	wantCost := (50*0.15 + 20*0.60) / 1e6 // gpt-4o-mini's price in configs/agents.yaml
	assert.Equal(t, &AgentDecision{Agent: "planner", Turn: 1, Kind: "model", Asked: []string{"wasm_log-scan"}, Tokens: 70,
		CostUSD: wantCost, price: &plan.Price{Input: 0.15, Output: 0.60}}, model1.Agent)
	assert.Equal(t, "investigate:t1.1@wasm", scan.ActivityID)
	assert.Equal(t, "investigate", scan.Step)
	assert.Equal(t, "wasm", scan.Runtime)
	assert.Equal(t, "log-scan", scan.Tool)
	require.NotNil(t, scan.Agent)
	assert.Equal(t, "tool", scan.Agent.Kind)
	assert.Equal(t, 1, scan.Agent.Turn)
	assert.Contains(t, scan.Agent.Args, `"service":"api"`)
	assert.Contains(t, scan.Agent.Result, `"errors":2`)
	assert.Equal(t, 2, model2.Agent.Turn)
	assert.Contains(t, model2.Agent.Answer, `"action": "restart service/api"`)

	var b bytes.Buffer
	require.NoError(t, WriteTree(&b, tr))
	out := b.String()
	assert.Contains(t, out, "planner turn 1: the model asked for wasm_log-scan (70 tokens, $0.000019)")
	assert.Contains(t, out, `planner turn 1 called log-scan on wasm with {"service":"api"`)
	assert.Contains(t, out, `→ {"service":"api","lines":2,"errors":2`)
	assert.Contains(t, out, "planner turn 2: the model answered")
}

func TestAgentDecisionIgnoresOtherIDs(t *testing.T) {
	for _, id := range []string{"scan@wasm", "scan#3@wasm", "scan~2@native", "a:b@native", "x:tz@native", "x:t1.z@native"} {
		assert.Nil(t, agentDecision(id, nil), id)
	}
	d := agentDecision("ask#2:t3.1@wasm", nil)
	require.NotNil(t, d)
	assert.Equal(t, AgentDecision{Turn: 3, Kind: "tool"}, *d)
}
