package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight"
	"github.com/tars-engine/tars/activities/native"
	"github.com/tars-engine/tars/activities/wasm"
	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
)

// realPools run each call on the real runner of its runtime: the native
// pool (model.chat included), wazero with the shipped wasm guests, and
// hyperlight micro-VMs where /dev/kvm exists. A runtime without a runner
// never picks its calls up (a schedule-to-start timeout), like a pool
// that is not deployed.
type realPools struct {
	runners map[string]activities.Runner
	// missing lists "runtime:tool" pairs no pool picks up.
	missing map[string]bool
	mu      sync.Mutex
	calls   []activities.Call
	ids     []string
}

func newRealPools(t *testing.T) *realPools {
	w, err := wasm.New(wasm.Config{ModulesDir: "../activities/wasm/guests/bin"})
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	p := &realPools{runners: map[string]activities.Runner{plan.RuntimeNative: native.New(native.Config{}), plan.RuntimeWASM: w}}
	if h, err := hyperlight.New(hyperlight.Config{GuestsDir: "../activities/hyperlight/guests/bin"}); err == nil {
		t.Cleanup(func() { h.Close() })
		p.runners[plan.RuntimeHyperlight] = h
	}
	return p
}

func (p *realPools) run(ctx context.Context, args converter.EncodedValues) (activities.Result, error) {
	var call activities.Call
	if err := args.Get(&call); err != nil {
		return activities.Result{}, err
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.ids = append(p.ids, activity.GetInfo(ctx).ActivityID)
	p.mu.Unlock()
	r, ok := p.runners[call.Runtime]
	if !ok || p.missing[call.Runtime+":"+call.Tool] {
		return activities.Result{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	}
	return r.Run(ctx, call)
}

// ran lists "runtime:tool" of each call, in order.
func (p *realPools) ran() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.calls))
	for i, c := range p.calls {
		out[i] = c.Runtime + ":" + c.Tool
	}
	return out
}

func newAgentEnv(t *testing.T, p *realPools) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterDynamicWorkflow(Interpreter, workflow.DynamicRegisterOptions{})
	env.RegisterDynamicActivity(p.run, activity.DynamicRegisterOptions{})
	env.RegisterActivityWithOptions(func(context.Context, PollersRequest) (PollersResult, error) {
		return PollersResult{}, nil
	}, activity.RegisterOptions{Name: PollersActivity})
	return env
}

// chatServer is an OpenAI-compatible chat-completions server over real
// HTTP. reply(n, request) answers the nth request (from 1) with a message:
// {"content": ...} or {"tool_calls": [[name, args], ...]}.
type chatServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []map[string]any
}

func newChatServer(t *testing.T, reply func(n int, req map[string]any) map[string]any) *chatServer {
	c := &chatServer{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error": {"message": "bad request"}}`, http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.requests = append(c.requests, req)
		n := len(c.requests)
		c.mu.Unlock()
		m := reply(n, req)
		msg := map[string]any{"role": "assistant", "content": m["content"]}
		finish := "stop"
		if calls, ok := m["tool_calls"].([][2]string); ok {
			var tc []any
			for i, call := range calls {
				tc = append(tc, map[string]any{"id": fmt.Sprintf("call_%d_%d", n, i), "type": "function",
					"function": map[string]any{"name": call[0], "arguments": call[1]}})
			}
			msg["tool_calls"], msg["content"], finish = tc, nil, "tool_calls"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   map[string]any{"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40},
		})
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *chatServer) request(i int) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[i]
}

func (c *chatServer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// compileAgent compiles a metascript whose planner talks to srv.
func compileAgent(t *testing.T, srv *chatServer, policy, reason string) *plan.Plan {
	t.Helper()
	src := fmt.Sprintf(`metascript: agent-test
agents:
  - id: planner
    model: {provider: openai, name: gpt-4o-mini, endpoint: "%s/v1", max_tokens: 1024}
    tools: [wasm:log-scan, wasm:text-stats, hyperlight:policy-check]
policy:
  grants: {http_hosts: ["127.0.0.1"]}
%s
steps:
  - id: ask
    agent: planner
%s
outputs:
  answer: ${steps.ask.output}
`, srv.srv.URL, policy, reason)
	p, err := metascripts.Compile("agent-test.yaml", []byte(src), metascripts.Options{Catalog: builtinCatalog()})
	require.NoError(t, err)
	return p
}

const logArgs = `{"service": "api", "lines": ["ERROR db timeout after 30ms", "WARN slow", "ERROR db timeout after 31ms"]}`

func TestAgentCallsToolsOnTheirRuntimes(t *testing.T) {
	srv := newChatServer(t, func(n int, req map[string]any) map[string]any {
		switch n {
		case 1:
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", logArgs}, {"text-stats", `{"text": "db timeout db"}`}}}
		default:
			return map[string]any{"content": "```json\n{\"summary\": \"2 db timeouts on api\", \"errors\": 2}\n```"}
		}
	})
	p := compileAgent(t, srv, "  budgets: {tokens: 10000, usd: 1}", `    reason:
      prompt: Investigate the api errors.
      tools: [wasm:log-scan, text-stats]
      max_turns: 3
      output: {schema: {type: object, required: [summary, errors], properties: {errors: {type: integer}}}}`)
	pools := newRealPools(t)
	env := newAgentEnv(t, pools)
	res, err := runPlan(t, env, p, nil)
	require.NoError(t, err)

	assert.Equal(t, map[string]any{"summary": "2 db timeouts on api", "errors": float64(2)}, res.Outputs["answer"])
	assert.Equal(t, []string{"native:model.chat", "wasm:log-scan", "wasm:text-stats", "native:model.chat"}, pools.ran())
	assert.Equal(t, []string{"ask:t1@native", "ask:t1.1@wasm", "ask:t1.2@wasm", "ask:t2@native"}, pools.ids)

	// The model got the tools' schemas, then each tool's real result.
	tools := srv.request(0)["tools"].([]any)
	require.Len(t, tools, 2)
	fn := tools[0].(map[string]any)["function"].(map[string]any)
	assert.Equal(t, "wasm_log-scan", fn["name"])
	assert.Contains(t, fn["parameters"].(map[string]any)["required"], "service")
	msgs := srv.request(1)["messages"].([]any)
	require.Len(t, msgs, 5, "the planner's persona, the prompt, the tool-call turn and two results")
	scan := msgs[3].(map[string]any)
	assert.Equal(t, "tool", scan["role"])
	assert.Equal(t, "call_1_0", scan["tool_call_id"])
	assert.Contains(t, scan["content"], `"errors":2`, "log-scan ran in wazero on the model's args")

	// The step's state shows each decision, with usage and cost.
	st := res.Steps[0]
	require.Len(t, st.Calls, 4)
	assert.Equal(t, AgentCall{Turn: 1, Kind: "model", Tool: "model.chat", Runtime: "native", Calls: []string{"wasm_log-scan", "text-stats"},
		Usage: &Usage{Prompt: 30, Completion: 10, Total: 40}, CostUSD: (30*0.15 + 10*0.60) / 1e6}, st.Calls[0])
	assert.Equal(t, "log-scan", st.Calls[1].Tool)
	assert.Equal(t, "wasm", st.Calls[1].Runtime)
	assert.Contains(t, st.Calls[1].Result, `"top_errors"`)
	assert.Equal(t, 2, st.Calls[3].Turn)

	// Totals are in the run state that tars status shows.
	v, err := env.QueryWorkflow(QueryState)
	require.NoError(t, err)
	var state State
	require.NoError(t, v.Get(&state))
	assert.Equal(t, 80.0, state.Budgets["tokens"])
	assert.InDelta(t, 2*(30*0.15+10*0.60)/1e6, state.Budgets["usd"], 1e-12)

	// Every answer was capped by the token budget's remainder.
	assert.LessOrEqual(t, srv.request(1)["max_tokens"], 10000.0-40)
}

func agentError(t *testing.T, err error, typ string) string {
	t.Helper()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, typ, ae.Type(), ae.Error())
	return ae.Error()
}

func TestAgentBadInput(t *testing.T) {
	const reason = `    reason:
      prompt: Investigate.
      tools: [wasm:log-scan]
      max_turns: 2
      output: {schema: {type: object, required: [summary]}}
    retry: {attempts: 2}`
	tests := []struct {
		name      string
		reply     func(n int, req map[string]any) map[string]any
		wantType  string
		wantMsg   string
		wantRan   []string
		wantAsked int
	}{
		{name: "a tool the step does not give", reply: func(int, map[string]any) map[string]any {
			return map[string]any{"tool_calls": [][2]string{{"native_shell", `{"argv": ["rm", "-rf", "/"]}`}}}
		}, wantType: ErrAgentTool, wantAsked: 1, wantRan: []string{"native:model.chat"},
			wantMsg: `step ask: agent planner, turn 1: the model called tool "native_shell", which the step does not give it (its tools: wasm_log-scan); nothing was run`},
		{name: "args that fail the tool's schema", reply: func(int, map[string]any) map[string]any {
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", `{"lines": 5}`}}}
		}, wantType: ErrAgentTool, wantAsked: 1, wantRan: []string{"native:model.chat"},
			wantMsg: `step ask: agent planner, turn 1: the model called wasm:log-scan with args that fail its schema: at '': missing property 'service'`},
		{name: "one bad call refuses the whole turn", reply: func(int, map[string]any) map[string]any {
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", logArgs}, {"wasm_log-scan", `{"service": 7}`}}}
		}, wantType: ErrAgentTool, wantAsked: 1, wantRan: []string{"native:model.chat"},
			wantMsg: `step ask: agent planner, turn 1: the model called wasm:log-scan with args that fail its schema: at '/service': got number, want string; nothing was run`},
		{name: "a model that loops past max_turns", reply: func(int, map[string]any) map[string]any {
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", logArgs}}}
		}, wantType: ErrAgentTurns, wantAsked: 2,
			wantRan: []string{"native:model.chat", "wasm:log-scan", "native:model.chat", "wasm:log-scan"},
			wantMsg: "step ask: agent planner used all 2 turns (reason.max_turns) and was still calling tools (last: wasm_log-scan)"},
		{name: "a non-JSON answer when a schema is required", reply: func(int, map[string]any) map[string]any {
			return map[string]any{"content": "I think it is the database."}
		}, wantType: ErrAgentOutput, wantAsked: 2, wantRan: []string{"native:model.chat", "native:model.chat"},
			wantMsg: "step ask: agent planner, turn 2: the answer does not satisfy reason.output.schema (2 of 2 tries): the answer is not JSON (I think it is the database.)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newChatServer(t, tt.reply)
			pools := newRealPools(t)
			env := newAgentEnv(t, pools)
			_, err := runPlan(t, env, compileAgent(t, srv, "", reason), nil)
			msg := agentError(t, err, tt.wantType)
			assert.Contains(t, msg, tt.wantMsg)
			assert.Equal(t, tt.wantAsked, srv.count())
			assert.Equal(t, tt.wantRan, pools.ran())
		})
	}
}

func TestAgentSchemaErrorGoesBackToTheModel(t *testing.T) {
	srv := newChatServer(t, func(n int, req map[string]any) map[string]any {
		if n == 1 {
			return map[string]any{"content": `{"sumary": "typo"}`}
		}
		return map[string]any{"content": `{"summary": "fixed"}`}
	})
	p := compileAgent(t, srv, "", `    reason:
      prompt: Investigate.
      output: {schema: {type: object, required: [summary]}}`)
	res, err := runPlan(t, newAgentEnv(t, newRealPools(t)), p, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"summary": "fixed"}, res.Outputs["answer"])
	msgs := srv.request(1)["messages"].([]any)
	require.Len(t, msgs, 4, "persona, prompt, the first answer, the error")
	assert.Equal(t, `{"sumary": "typo"}`, msgs[2].(map[string]any)["content"])
	assert.Contains(t, msgs[3].(map[string]any)["content"], "missing property 'summary'")
}

func TestAgentBudgetsBeforeSpending(t *testing.T) {
	t.Run("max_tokens is capped by the tokens left", func(t *testing.T) {
		srv := newChatServer(t, func(int, map[string]any) map[string]any { return map[string]any{"content": "ok"} })
		p := compileAgent(t, srv, "  budgets: {tokens: 100}", "    reason: {prompt: Say ok.}")
		_, err := runPlan(t, newAgentEnv(t, newRealPools(t)), p, nil)
		require.NoError(t, err)
		limit := srv.request(0)["max_tokens"].(float64)
		assert.Greater(t, limit, 0.0)
		assert.Less(t, limit, 100.0, "model.max_tokens 1024 is lowered to what the budget leaves")
	})
	t.Run("a call the tokens left cannot pay for is not made", func(t *testing.T) {
		srv := newChatServer(t, func(int, map[string]any) map[string]any {
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", logArgs}}}
		})
		// The first turn leaves 200-40 = 160 tokens; the second turn's
		// prompt alone (the tool result is in it) needs more.
		p := compileAgent(t, srv, "  budgets: {tokens: 200}", `    reason: {prompt: Investigate., tools: [wasm:log-scan]}`)
		pools := newRealPools(t)
		_, err := runPlan(t, newAgentEnv(t, pools), p, nil)
		msg := agentError(t, err, ErrBudget)
		assert.Contains(t, msg, "budget tokens would be exceeded at step ask: agent planner, turn 2: 40 of 200 spent")
		assert.Contains(t, msg, "the call was not made")
		assert.Equal(t, 1, srv.count(), "the second model call was not made")
	})
	t.Run("usd", func(t *testing.T) {
		srv := newChatServer(t, func(int, map[string]any) map[string]any { return map[string]any{"content": "ok"} })
		p := compileAgent(t, srv, "  budgets: {usd: 0.000001}", "    reason: {prompt: Say ok.}")
		_, err := runPlan(t, newAgentEnv(t, newRealPools(t)), p, nil)
		msg := agentError(t, err, ErrBudget)
		assert.Contains(t, msg, "budget usd would be exceeded at step ask: agent planner, turn 1: 0 of 1e-06 spent")
		assert.Zero(t, srv.count(), "no request reached the model")
	})
}

// Concurrent model calls (foreach items here) hold what they may spend
// until they are counted, so together they cannot pass the budget: the
// run stops with calls not made, and what was spent stays within it.
func TestAgentBudgetHeldAcrossConcurrentCalls(t *testing.T) {
	for _, tc := range []struct{ name, reason string }{
		{"plain reason steps (one activity per item)", "    reason: {prompt: \"Say ok about ${item}.\"}"},
		{"reason steps with tools (the agent loop)", "    reason: {prompt: \"Say ok about ${item}.\", tools: [wasm:log-scan]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newChatServer(t, func(int, map[string]any) map[string]any { return map[string]any{"content": "ok"} })
			p := compileAgent(t, srv, "  budgets: {tokens: 400}", "    foreach: \"${['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']}\"\n    concurrency: 5\n"+tc.reason)
			env := newAgentEnv(t, newRealPools(t))
			_, err := runPlan(t, env, p, nil)
			msg := agentError(t, err, ErrBudget)
			assert.Contains(t, msg, "budget tokens would be exceeded at step ask item")
			n := srv.count()
			assert.Positive(t, n)
			assert.Less(t, n, 10, "some calls were not made")
			assert.LessOrEqual(t, 40*n, 400, "the calls made stay within the budget")
			for i := range n {
				assert.LessOrEqual(t, srv.request(i)["max_tokens"], 400.0)
			}
		})
	}
}

// A tool the model calls by a bare name runs on the first runtime of its
// chain that picks it up, like a tool step; the step's isolation floor
// keeps weaker runtimes out of that chain.
func TestAgentToolFallback(t *testing.T) {
	// A catalogue where log-scan is also offered natively, by a pool
	// that is not running.
	cat := builtinCatalog()
	cat[plan.RuntimeNative]["log-scan"] = ""
	compile := func(srv *chatServer, isolation string) *plan.Plan {
		src := fmt.Sprintf(`metascript: fallback
agents:
  - id: planner
    model: {provider: openai, name: gpt-4o-mini, endpoint: "%s/v1"}
policy: {grants: {http_hosts: ["127.0.0.1"]}}
steps:
  - id: ask
    agent: planner
%s    reason: {prompt: Scan., tools: [log-scan]}
`, srv.srv.URL, isolation)
		p, err := metascripts.Compile("fallback.yaml", []byte(src), metascripts.Options{Catalog: cat})
		require.NoError(t, err)
		return p
	}
	reply := func(n int, _ map[string]any) map[string]any {
		if n == 1 {
			return map[string]any{"tool_calls": [][2]string{{"log-scan", logArgs}}}
		}
		return map[string]any{"content": "done"}
	}
	t.Run("falls back from a missing pool", func(t *testing.T) {
		srv := newChatServer(t, reply)
		pools := newRealPools(t)
		pools.missing = map[string]bool{"native:log-scan": true}
		res, err := runPlan(t, newAgentEnv(t, pools), compile(srv, ""), nil)
		require.NoError(t, err)
		assert.Equal(t, "done", res.Steps[0].Calls[2].Result, "the model answered after the tool ran")
		assert.Equal(t, []string{"native:model.chat", "native:log-scan", "wasm:log-scan", "native:model.chat"}, pools.ran())
		require.Len(t, res.Steps[0].Hops, 1)
		assert.Equal(t, Hop{Step: "ask", From: "native", To: "wasm", Reason: "not started within 1m0s"}, res.Steps[0].Hops[0])
		assert.Equal(t, "wasm", res.Steps[0].Calls[1].Runtime)
	})
	t.Run("never below the isolation floor", func(t *testing.T) {
		srv := newChatServer(t, reply)
		p := compile(srv, "    isolation: sandbox\n")
		assert.Equal(t, []string{plan.RuntimeWASM}, p.Steps[0].Reason.Tools[0].Runtimes, "native is not in the chain")
		pools := newRealPools(t)
		pools.missing = map[string]bool{"wasm:log-scan": true}
		_, err := runPlan(t, newAgentEnv(t, pools), p, nil)
		msg := agentError(t, err, ErrNoPool)
		assert.Contains(t, msg, "no pool could run tool log-scan: tried wasm")
		assert.Equal(t, []string{"native:model.chat", "wasm:log-scan"}, pools.ran(), "nothing ran natively")
	})
}

// TestAgentTriageExampleOpenAI runs examples/agent-triage.yaml with its
// planner switched to a model behind an OpenAI-compatible server that
// calls both tools: log-scan in wazero and policy-check in a micro-VM.
func TestAgentTriageExampleOpenAI(t *testing.T) {
	srv := newChatServer(t, func(n int, req map[string]any) map[string]any {
		if n == 1 {
			return map[string]any{"tool_calls": [][2]string{{"wasm_log-scan", logArgs},
				{"hyperlight_policy-check", `{"policy": "remediation", "principal": "planner", "action": "restart", "resource": "service/api"}`}}}
		}
		return map[string]any{"content": `{"summary": "db timeouts", "action": "restart service/api", "allowed": true}`}
	})
	cfg := *configs.Default()
	cfg.Agents = maps.Clone(cfg.Agents)
	planner := *cfg.Agents["planner"]
	planner.Model = &plan.Model{Provider: "openai", Name: "gpt-4o-mini", Endpoint: srv.srv.URL + "/v1", MaxTokens: 512}
	cfg.Agents["planner"] = &planner
	p, err := metascripts.CompileFile("../metascripts/examples/agent-triage.yaml", metascripts.Options{Config: &cfg, Catalog: builtinCatalog()})
	require.NoError(t, err)
	pools := newRealPools(t)
	env := newAgentEnv(t, pools)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalApprove, Decision{Step: "approve", Approved: true, By: "ana"})
	}, time.Minute)
	res, err := runPlan(t, env, p, nil)
	assert.Equal(t, []string{"wasm_log-scan", "hyperlight_policy-check"}, toolNamesOf(srv.request(0)))
	if _, kvm := pools.runners[plan.RuntimeHyperlight]; !kvm {
		msg := agentError(t, err, ErrNoPool)
		assert.Contains(t, msg, "step investigate: agent planner, turn 1, tool policy-check: step investigate: no pool could run tool policy-check: tried hyperlight")
		assert.Equal(t, []string{"native:model.chat", "wasm:log-scan", "hyperlight:policy-check"}, pools.ran(), "log-scan ran; policy-check went nowhere weaker")
		t.Skipf("the rest needs the hyperlight pool: %v", "no /dev/kvm")
	}
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"summary": "db timeouts", "action": "restart service/api", "allowed": true}, res.Outputs["plan"])
	assert.Equal(t, true, res.Outputs["approved"])
	msgs := srv.request(1)["messages"].([]any)
	assert.Contains(t, msgs[len(msgs)-1].(map[string]any)["content"], `"decision"`, "policy-check's verdict went back to the model")
}

func toolNamesOf(req map[string]any) []string {
	var out []string
	for _, t := range req["tools"].([]any) {
		out = append(out, t.(map[string]any)["function"].(map[string]any)["name"].(string))
	}
	return out
}

// TestAgentTriageExampleOffline runs examples/agent-triage.yaml with the
// echo model: the planner calls log-scan in wazero and policy-check in a
// micro-VM, and a person approves. Without /dev/kvm the hyperlight pool
// is missing, and policy-check must not fall back below the step's
// isolation floor: the run fails naming it, and nothing ran natively.
func TestAgentTriageExampleOffline(t *testing.T) {
	p, err := metascripts.CompileFile("../metascripts/examples/agent-triage.yaml", metascripts.Options{Catalog: builtinCatalog()})
	require.NoError(t, err)
	pools := newRealPools(t)
	env := newAgentEnv(t, pools)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalApprove, Decision{Step: "approve", Approved: true, By: "ana"})
	}, time.Minute)
	env.SetTestTimeout(time.Minute)
	res, err := runPlan(t, env, p, nil)
	if _, kvm := pools.runners[plan.RuntimeHyperlight]; !kvm {
		msg := agentError(t, err, ErrNoPool)
		assert.Contains(t, msg, "step investigate: agent planner, turn 1, tool policy-check: step investigate: no pool could run tool policy-check: tried hyperlight")
		assert.Equal(t, []string{"native:model.chat", "wasm:log-scan", "hyperlight:policy-check"}, pools.ran())
		t.Skipf("the rest needs the hyperlight pool: %v", "no /dev/kvm")
	}
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"summary": "db timeouts on api", "action": "restart service/api", "allowed": true}, res.Outputs["plan"])
	assert.Equal(t, true, res.Outputs["approved"])
	assert.Equal(t, []string{"native:model.chat", "wasm:log-scan", "hyperlight:policy-check", "native:model.chat"}, pools.ran())
	assert.True(t, strings.Contains(res.Steps[0].Calls[2].Result, `"decision"`))
}

// BenchmarkAgentCheckArgs measures what the workflow spends checking one
// tool call's args against the tool's schema, the agent loop's only
// per-call work besides scheduling: with the schema cached (every call
// after the first), and compiling it each time (what the cache saves).
func BenchmarkAgentCheckArgs(b *testing.B) {
	desc, params, ok := metascripts.BuiltinToolSchema("log-scan")
	require.True(b, ok, desc)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := checkArgs(params, logArgs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compiled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := compileSchemaText(params); err != nil {
				b.Fatal(err)
			}
		}
	})
}
