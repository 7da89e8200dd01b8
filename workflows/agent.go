package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// Error types of the agent loop, for on_error and non_retryable to match.
const (
	// ErrAgentTool: the model called a tool the step does not give it, or
	// gave args that fail the tool's schema. Nothing was run.
	ErrAgentTool = "AgentToolRefused"
	// ErrAgentTurns: the model was still calling tools after max_turns.
	ErrAgentTurns = "AgentMaxTurns"
	// ErrAgentOutput: the answer is not JSON that satisfies
	// reason.output.schema, after as many tries as the step's retry allows.
	ErrAgentOutput = "AgentOutputInvalid"
)

// AgentCall is one activity of a reason step's agent loop: a model turn
// or a tool call the model made. Results are cut to a snippet; the whole
// of each is in the history.
type AgentCall struct {
	Turn    int    `json:"turn"`
	Kind    string `json:"kind"` // "model" or "tool"
	Tool    string `json:"tool"` // model.chat for a model turn
	Runtime string `json:"runtime,omitempty"`
	// Calls: on a model turn, the tools the model asked for.
	Calls []string `json:"calls,omitempty"`
	// Args: on a tool call, the args the model gave (snippet).
	Args   string `json:"args,omitempty"`
	Result string `json:"result,omitempty"` // what came back (snippet)
	Usage  *Usage `json:"usage,omitempty"`  // model turns
	// CostUSD is the model turn's cost at the model's price (0 when the
	// model has none).
	CostUSD float64 `json:"cost_usd,omitempty"`
}

// Usage is a model turn's token count.
type Usage struct {
	Prompt     int `json:"prompt"`
	Completion int `json:"completion"`
	Total      int `json:"total"`
}

// Budget names the agent loop checks before each model call.
const (
	BudgetTokens = "tokens"
	BudgetUSD    = "usd"
)

// bytesPerToken estimates a prompt's tokens from its size before the call:
// about 4 bytes a token for English text and JSON.
const bytesPerToken = 4

// defaultOutputAttempts is how many answers a step with an output schema
// gets when it sets no retry.attempts (the activity default, too).
const defaultOutputAttempts = 3

// message is a chat message in the OpenAI wire format, as model.chat
// forwards it.
type message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []wireCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type wireCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// modelReply is what model.chat returns.
type modelReply struct {
	Content   string          `json:"content"`
	JSON      json.RawMessage `json:"json"`
	ToolCalls []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"tool_calls"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// agent runs a reason step as a loop of model turns (one model.chat
// activity each). When the model asks for tools, each call runs as an
// activity of its own on the tool's runtime chain, through the same
// routing as tool steps, and its result goes back to the model; when it
// answers, the answer is checked against the output schema, if any. Every
// model call is capped by what the run's budgets leave, and is not made
// when it could exceed one.
func (r *run) agent(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope, vars expr.Vars) (any, error) {
	rendered, err := r.env.RenderJSON(s.With, vars)
	if err != nil {
		return nil, exprError(s, "reason", err)
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal(rendered, &base); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: reason args are not an object: %v", s.ID, err), ErrInvalidPlan, nil)
	}
	var model plan.Model
	_ = json.Unmarshal(base["model"], &model)

	maxTurns, attempts := 1, defaultOutputAttempts
	var tools []plan.AgentTool
	var schema *jsonschema.Schema
	if rs := s.Reason; rs != nil {
		maxTurns, tools = max(rs.MaxTurns, 1), rs.Tools
		if len(rs.Schema) > 0 {
			if schema, err = compileSchema(rs.Schema); err != nil {
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: reason.output.schema: %v", s.ID, err), ErrInvalidPlan, nil)
			}
			base["output_schema"] = rs.Schema
			delete(base, "output") // the loop checks the answer and asks again
		}
		if len(tools) > 0 {
			specs := make([]map[string]any, len(tools))
			for i, t := range tools {
				specs[i] = map[string]any{"name": t.Name, "description": t.Description, "parameters": t.Parameters}
			}
			base["tools"], _ = json.Marshal(specs)
		}
	}
	if s.Retry != nil && s.Retry.Attempts > 0 {
		attempts = s.Retry.Attempts
	}
	who := fmt.Sprintf("step %s: agent %s", s.ID, s.Agent)
	if sc != nil && sc.hasItem {
		who = fmt.Sprintf("step %s item %d: agent %s", s.ID, sc.index, s.Agent)
	}

	// The model call runs native model.chat; the step's isolation floor
	// bounds the tools the agent calls, not the call to the model.
	ms := *s
	ms.MinIsolation = ""
	var msgs []message
	invalid := 0
	lastAsked := ""
	for turn := 1; turn <= maxTurns; turn++ {
		if len(msgs) > 0 {
			base["messages"], _ = json.Marshal(msgs)
		}
		delete(base, "max_tokens")
		args, _ := json.Marshal(base)
		limit, h, err := r.admit(ctx, &model, len(args), fmt.Sprintf("%s, turn %d", who, turn), nil)
		if err != nil {
			return nil, err
		}
		if limit > 0 {
			base["max_tokens"], _ = json.Marshal(limit)
			args, _ = json.Marshal(base)
		}
		res, rt, err := r.dispatch(ctx, &ms, st, callScope(sc, fmt.Sprintf("t%d", turn)), args)
		r.release(h)
		if err != nil {
			return nil, fmt.Errorf("%s, turn %d: %w", who, turn, err)
		}
		var reply modelReply
		if err := json.Unmarshal(res.Output, &reply); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s, turn %d: model.chat returned output that is not a chat answer: %v", who, turn, err), ErrAgentOutput, nil)
		}
		u := Usage{Prompt: reply.Usage.PromptTokens, Completion: reply.Usage.CompletionTokens, Total: reply.Usage.TotalTokens}
		cost := usd(&model, u)
		r.account(s, spend(res.Metrics, u, cost))
		call := AgentCall{Turn: turn, Kind: "model", Tool: s.Tool, Runtime: rt, Usage: &u, CostUSD: cost}
		for _, tc := range reply.ToolCalls {
			call.Calls = append(call.Calls, tc.Name)
		}
		if len(reply.ToolCalls) == 0 {
			call.Result = snippet(reply.Content)
		}
		st.Calls = append(st.Calls, call)
		if r.fatal != nil {
			return nil, r.fatal
		}

		if len(reply.ToolCalls) > 0 {
			lastAsked = strings.Join(call.Calls, ", ")
			// Check every call of the turn before running any, so that a
			// refused call leaves nothing of the turn run.
			am := message{Role: "assistant", Content: reply.Content}
			picked := make([]*plan.AgentTool, len(reply.ToolCalls))
			argsOf := make([]json.RawMessage, len(reply.ToolCalls))
			for i, tc := range reply.ToolCalls {
				t := findTool(tools, tc.Name)
				if t == nil {
					return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
						"%s, turn %d: the model called tool %q, which the step does not give it (%s); nothing was run",
						who, turn, tc.Name, toolNames(tools)), ErrAgentTool, nil)
				}
				targs, err := checkArgs(t.Parameters, tc.Arguments)
				if err != nil {
					return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
						"%s, turn %d: the model called %s:%s with args that fail its schema: %v; nothing was run",
						who, turn, t.Runtimes[0], t.Tool, err), ErrAgentTool, nil)
				}
				picked[i], argsOf[i] = t, targs
				if tc.ID == "" { // some compatible servers leave it out; tool results need one
					reply.ToolCalls[i].ID = fmt.Sprintf("call_%d_%d", turn, i+1)
				}
				var wc wireCall
				wc.ID, wc.Type = reply.ToolCalls[i].ID, "function"
				wc.Function.Name, wc.Function.Arguments = tc.Name, tc.Arguments
				am.ToolCalls = append(am.ToolCalls, wc)
			}
			msgs = append(msgs, am)
			for i, tc := range reply.ToolCalls {
				t, targs := picked[i], argsOf[i]
				ts := plan.Step{
					ID: s.ID, Kind: plan.KindTool, Agent: s.Agent, Pos: s.Pos,
					Tool: t.Tool, Runtimes: t.Runtimes, Digests: t.Digests, MinIsolation: s.MinIsolation,
					Retry: s.Retry, Timeout: s.Timeout, ScheduleToStart: s.ScheduleToStart,
				}
				tres, trt, err := r.dispatch(ctx, &ts, st, callScope(sc, fmt.Sprintf("t%d.%d", turn, i+1)), targs)
				if err != nil {
					return nil, fmt.Errorf("%s, turn %d, tool %s: %w", who, turn, t.Tool, err)
				}
				r.account(s, tres.Metrics)
				st.Calls = append(st.Calls, AgentCall{Turn: turn, Kind: "tool", Tool: t.Tool, Runtime: trt,
					Args: snippet(string(targs)), Result: snippet(string(tres.Output))})
				if r.fatal != nil {
					return nil, r.fatal
				}
				msgs = append(msgs, message{Role: "tool", ToolCallID: tc.ID, Content: string(tres.Output)})
			}
			continue
		}

		if schema == nil {
			out, err := expr.Decode(res.Output)
			if err != nil {
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s, turn %d: %v", who, turn, err), ErrAgentOutput, nil)
			}
			return reasonOutput(out), nil
		}
		out, verr := checkAnswer(schema, reply.Content)
		if verr == nil {
			return out, nil
		}
		invalid++
		if invalid >= attempts {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s, turn %d: the answer does not satisfy reason.output.schema (%d of %d tries): %v",
				who, turn, invalid, attempts, verr), ErrAgentOutput, nil)
		}
		lastAsked = ""
		msgs = append(msgs,
			message{Role: "assistant", Content: reply.Content},
			message{Role: "user", Content: "Your answer does not satisfy the required JSON Schema: " + verr.Error() + ". Answer again with only the JSON."})
	}
	why := "without a valid answer"
	if lastAsked != "" {
		why = "and was still calling tools (last: " + lastAsked + ")"
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"%s used all %d turns (reason.max_turns) %s", who, maxTurns, why), ErrAgentTurns, nil)
}

// held is what model calls in flight may still spend: each call holds
// its prompt estimate plus its answer cap until its real usage is counted,
// so that concurrent calls (foreach items, parallel steps) cannot together
// pass a budget that each alone would not.
type held struct {
	tokens, usd float64
	releases    int // bumped on each release, for callers waiting on one
}

// hold is one call's share of held.
type hold struct{ tokens, usd float64 }

func (r *run) release(h hold) {
	r.held.tokens -= h.tokens
	r.held.usd -= h.usd
	r.held.releases++
}

// admit checks a model call against the run's budgets before it is made,
// waiting while calls in flight hold what it needs, and returns the answer
// cap the budgets leave (0 = none from budgets) and what the call holds
// until release. The prompt is estimated from the call's size; the call is
// refused (and the run fails) when not even one answer token would fit.
// wait blocks until held may have changed; the selector path passes one
// that takes a completion from its selector.
func (r *run) admit(ctx workflow.Context, m *plan.Model, argBytes int, where string, wait func() bool) (int, hold, error) {
	for {
		limit, h, fits, err := r.preflight(m, argBytes, where)
		if fits {
			r.held.tokens += h.tokens
			r.held.usd += h.usd
			return limit, h, nil
		}
		if r.held.tokens > 0 || r.held.usd > 0 {
			// Calls in flight hold part of the budget, and give back what
			// they do not spend: decide once one has finished.
			seen := r.held.releases
			if wait != nil && wait() {
				continue
			}
			if e := workflow.Await(ctx, func() bool { return r.held.releases != seen }); e != nil {
				return 0, hold{}, e
			}
			continue
		}
		r.fail(err)
		return 0, hold{}, err
	}
}

// preflight is admit's check: fits reports whether the call may go, with
// limit its answer cap (0 = none from budgets) and h what it holds; when
// it does not fit, err says why.
func (r *run) preflight(m *plan.Model, argBytes int, where string) (limit int, h hold, fits bool, err error) {
	budgets := r.p.Policy.Budgets
	prompt := (argBytes + bytesPerToken - 1) / bytesPerToken
	limit = math.MaxInt
	refuse := func(name string, spent, ceiling float64, need string) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"budget %s would be exceeded at %s: %g of %g spent, and the call needs %s; the call was not made",
			name, where, spent, ceiling, need), ErrBudget, nil)
	}
	if m.MaxTokens > 0 {
		limit = m.MaxTokens
	}
	if b, ok := budgets[BudgetTokens]; ok {
		left := int(b - r.budgets[BudgetTokens] - r.held.tokens)
		if left-prompt < 1 {
			return 0, hold{}, false, refuse(BudgetTokens, r.budgets[BudgetTokens], b, fmt.Sprintf("about %d prompt tokens and at least 1 answer token", prompt))
		}
		limit = min(limit, left-prompt)
	}
	if b, ok := budgets[BudgetUSD]; ok && m.Price != nil {
		left := b - r.budgets[BudgetUSD] - r.held.usd
		promptCost := float64(prompt) * m.Price.Input / 1e6
		answerCost := m.Price.Output / 1e6
		if left-promptCost < answerCost {
			return 0, hold{}, false, refuse(BudgetUSD, r.budgets[BudgetUSD], b, fmt.Sprintf("about $%.6f for %d prompt tokens and $%.6f for each answer token", promptCost, prompt, answerCost))
		}
		if answerCost > 0 {
			limit = min(limit, int((left-promptCost)/answerCost))
		}
	}
	if limit == math.MaxInt {
		// Neither a budget nor the model bounds the answer: nothing to hold.
		return 0, hold{}, true, nil
	}
	h.tokens = float64(prompt + limit)
	if m.Price != nil {
		h.usd = (float64(prompt)*m.Price.Input + float64(limit)*m.Price.Output) / 1e6
	}
	if _, ok := budgets[BudgetTokens]; !ok {
		h.tokens = 0
	}
	if _, ok := budgets[BudgetUSD]; !ok {
		h.usd = 0
	}
	capped := limit
	if m.MaxTokens > 0 && limit >= m.MaxTokens {
		capped = 0 // model.max_tokens already says it
	}
	return capped, h, true, nil
}

// usd is what a model turn cost at the model's price.
func usd(m *plan.Model, u Usage) float64 {
	if m.Price == nil {
		return 0
	}
	return (float64(u.Prompt)*m.Price.Input + float64(u.Completion)*m.Price.Output) / 1e6
}

// spend is what a model turn counts against the budgets: the activity's
// metrics plus its cost in usd.
func spend(metrics map[string]float64, u Usage, cost float64) map[string]float64 {
	out := map[string]float64{BudgetTokens: float64(u.Total), BudgetUSD: cost}
	for k, v := range metrics {
		if k != BudgetTokens && k != BudgetUSD {
			out[k] = v
		}
	}
	return out
}

// modelOf reads the model of rendered model.chat args.
func modelOf(args json.RawMessage) *plan.Model {
	var a struct {
		Model plan.Model `json:"model"`
	}
	_ = json.Unmarshal(args, &a)
	return &a.Model
}

// withMaxTokens sets model.chat's answer cap in rendered args (0 = leave
// them as they are).
func withMaxTokens(args json.RawMessage, limit int) json.RawMessage {
	if limit <= 0 {
		return args
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(args, &m) != nil {
		return args
	}
	m["max_tokens"], _ = json.Marshal(limit)
	out, err := json.Marshal(m)
	if err != nil {
		return args
	}
	return out
}

// callScope is sc with the agent-loop call name set, so that the activity
// id says which turn and call it is.
func callScope(sc *scope, call string) *scope {
	out := scope{}
	if sc != nil {
		out = *sc
	}
	out.call = call
	return &out
}

func findTool(tools []plan.AgentTool, name string) *plan.AgentTool {
	for i := range tools {
		if tools[i].Name == name {
			return &tools[i]
		}
	}
	return nil
}

func toolNames(tools []plan.AgentTool) string {
	if len(tools) == 0 {
		return "it gives none"
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	return "its tools: " + strings.Join(names, ", ")
}

// schemas caches compiled schemas by their text: compiling one costs the
// workflow task far more than validating with it (BENCHMARKS.md), and a
// Plan's tool schemas are the same on every call. A compiled schema is
// immutable, so coroutines and runs share it. At most maxCachedSchemas are
// kept, so ad-hoc Plans cannot grow it without bound.
var (
	schemas      sync.Map // string -> *jsonschema.Schema
	schemasCount atomic.Int32
)

const maxCachedSchemas = 1024

// compileSchema compiles a JSON Schema, or returns it from the cache. It
// is pure, so workflow code may call it.
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	if s, ok := schemas.Load(string(raw)); ok {
		return s.(*jsonschema.Schema), nil
	}
	s, err := compileSchemaText(raw)
	if err == nil && schemasCount.Load() < maxCachedSchemas {
		if _, loaded := schemas.LoadOrStore(string(raw), s); !loaded {
			schemasCount.Add(1)
		}
	}
	return s, err
}

func compileSchemaText(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	// A fixed URL: the default resolves against the worker's directory,
	// which would put a host path into error messages.
	if err := c.AddResource("mem:///schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("mem:///schema.json")
}

// checkArgs checks a tool call's args (JSON text from the model) against
// the tool's schema and returns them as JSON.
func checkArgs(params json.RawMessage, args string) (json.RawMessage, error) {
	if strings.TrimSpace(args) == "" {
		args = "{}"
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(args))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	sch, err := compileSchema(params)
	if err != nil {
		return nil, fmt.Errorf("the tool's schema does not compile: %v", err)
	}
	if err := sch.Validate(v); err != nil {
		return nil, errors.New(plan.SchemaMessage(err))
	}
	return json.RawMessage(args), nil
}

// checkAnswer parses an answer as JSON (a Markdown code fence around it is
// dropped) and checks it against schema.
func checkAnswer(schema *jsonschema.Schema, content string) (any, error) {
	text := stripFence(content)
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the answer is not JSON (%s)", snippet(content))
	}
	if err := schema.Validate(v); err != nil {
		return nil, errors.New(plan.SchemaMessage(err))
	}
	out, err := expr.Decode(json.RawMessage(text))
	if err != nil {
		return nil, err
	}
	return out, nil
}

func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	inner := strings.TrimSuffix(s[3:], "```")
	if nl := strings.IndexByte(inner, '\n'); nl >= 0 {
		inner = inner[nl+1:]
	}
	return strings.TrimSpace(inner)
}

// snippet cuts s for the step state; the whole value is in the history.
func snippet(s string) string {
	const n = 240
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
