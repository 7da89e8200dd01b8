package metascripts

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

func TestAgentTriageExampleCompiles(t *testing.T) {
	p := compileExample(t, "agent-triage", Options{Catalog: pools()})
	s := p.Step("investigate")
	require.NotNil(t, s.Reason)
	assert.Equal(t, 4, s.Reason.MaxTurns)
	require.Len(t, s.Reason.Tools, 2)
	ls, pc := s.Reason.Tools[0], s.Reason.Tools[1]
	assert.Equal(t, "wasm_log-scan", ls.Name)
	assert.Equal(t, []string{plan.RuntimeWASM}, ls.Runtimes)
	assert.NotEmpty(t, ls.Digests[plan.RuntimeWASM], "the module's digest is recorded, as for tool steps")
	assert.Contains(t, string(ls.Parameters), `"service"`)
	assert.Equal(t, "hyperlight_policy-check", pc.Name)
	assert.Equal(t, plan.IsolationSandbox, s.MinIsolation)
	assert.Contains(t, string(s.Reason.Schema), `"required":["summary","action","allowed"]`)
	var with map[string]any
	require.NoError(t, json.Unmarshal(s.With, &with))
	assert.Equal(t, "json", with["output"])
	assert.NotNil(t, with["model"].(map[string]any)["price"], "the echo model's price comes from configs/agents.yaml")
}

func TestReasonSteps(t *testing.T) {
	const head = `metascript: t
agents:
  - id: planner
    tools: [wasm:log-scan, native:echo]
`
	tests := []struct {
		name, src string
		want      string // "" = compiles
	}{
		{name: "tools within the agent's", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, tools: [wasm:log-scan, echo]}
`},
		{name: "a tool the agent may not use", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, tools: [wasm:text-stats]}
`, want: "t.yaml:8:34: reason.tools: agent planner may not use wasm:text-stats (its tools: wasm:log-scan, native:echo)"},
		{name: "a tool the policy does not allow", src: head + `policy: {allowed_tools: [native:model.chat, native:echo]}
steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, tools: [wasm:log-scan]}
`, want: "t.yaml:9:34: reason.tools: the policy does not allow wasm:log-scan"},
		{name: "an unknown tool", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, tools: [wasm:log-scam]}
`, want: `reason.tools: unknown tool "log-scam": no runtime offers it (did you mean "log-scan"?)`},
		{name: "a tool below the isolation floor", src: head + `steps:
  - id: ask
    agent: planner
    isolation: sandbox
    reason: {prompt: hi, tools: [native:echo]}
`, want: "reason.tools: runtime native gives process isolation, weaker than the step's isolation: sandbox"},
		{name: "isolation without tools", src: head + `steps:
  - id: ask
    agent: planner
    isolation: sandbox
    reason: {prompt: hi}
`, want: "isolation on a reason step bounds the tools its agent calls, and step ask gives it none"},
		{name: "max_turns out of range", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, max_turns: 0}
`, want: "reason.max_turns must be between 1 and 100, not 0"},
		{name: "a broken output schema", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, output: {schema: {type: objekt}}}
`, want: "t.yaml:8:43: reason.output.schema is not a usable JSON Schema: at '/type'"},
		{name: "a field of a text answer", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi}
  - id: use
    needs: [ask]
    tool: native:echo
    with: {value: "${steps.ask.output.content}"}
`, want: `t.yaml:12:22: steps.ask.output is reason step ask's answer as text, which has no field "content"; write steps.ask.output (or give it output: json)`},
		{name: "a field of a JSON answer", src: head + `steps:
  - id: ask
    agent: planner
    reason: {prompt: hi, output: json}
  - id: use
    needs: [ask]
    tool: native:echo
    with: {value: "${steps.ask.output.content}"}
`},
		{name: "an endpoint host the policy does not grant", src: `metascript: t
agents:
  - id: asker
    model: {provider: openai, name: gpt-4o-mini, endpoint: "https://api.openai.com/v1"}
policy: {grants: {http_hosts: [example.com]}}
steps:
  - id: ask
    agent: asker
    reason: {prompt: hi}
`, want: `t.yaml:8:12: reason step ask: the endpoint of agent asker's model (https://api.openai.com/v1) is on host "api.openai.com", which the policy does not grant; add it to policy.grants.http_hosts (granted: example.com)`},
		{name: "a granted endpoint host", src: `metascript: t
agents:
  - id: asker
    model: {provider: openai, name: gpt-4o-mini, endpoint: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY}
policy: {grants: {http_hosts: ["*.openai.com"], env: [OPENAI_API_KEY]}}
steps:
  - id: ask
    agent: asker
    reason: {prompt: hi}
`},
		{name: "an API key variable the policy does not grant", src: `metascript: t
agents:
  - id: asker
    model: {provider: openai, name: gpt-4o-mini, endpoint: "http://127.0.0.1:8080/v1", api_key_env: OPENAI_API_KEY}
policy: {grants: {http_hosts: ["127.0.0.1"]}}
steps:
  - id: ask
    agent: asker
    reason: {prompt: hi}
`, want: "reads its API key from OPENAI_API_KEY, which the policy does not grant"},
		{name: "a usd budget with an unpriced model", src: `metascript: t
agents:
  - id: asker
    model: {provider: openai, name: my-local-model, endpoint: "http://127.0.0.1:8080/v1"}
policy: {budgets: {usd: 1}, grants: {http_hosts: ["127.0.0.1"]}}
steps:
  - id: ask
    agent: asker
    reason: {prompt: hi}
`, want: `the run has a usd budget, and agent asker's model "my-local-model" has no price; add it under prices in configs/agents.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile("t.yaml", []byte(tt.src), Options{Catalog: pools()})
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, strings.Contains(tt.src, ", tools: ["), p.Steps[0].Reason != nil)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPlainReasonStepHasNoAgentLoopFields(t *testing.T) {
	p, err := Compile("t.yaml", []byte("metascript: t\nagents: [planner]\nsteps:\n  - id: ask\n    agent: planner\n    reason: {prompt: hi}\n"), Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Nil(t, p.Steps[0].Reason, "a reason step without tools, max_turns or schema keeps the Plan it had")
}
