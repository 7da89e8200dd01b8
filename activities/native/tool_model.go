package native

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

// Model providers model.chat speaks.
const (
	ProviderOpenAI = "openai" // any endpoint speaking OpenAI's chat-completions protocol
	ProviderEcho   = "echo"   // a stand-in that answers with the prompt; not a model
)

// modelArgs are model.chat's args. Unknown fields are tolerated here, unlike
// in the other tools, because the compiler writes them from the agent's
// model block, which may gain fields before this runner knows them.
type modelArgs struct {
	Model  modelSpec `json:"model"`
	System string    `json:"system"`
	Prompt string    `json:"prompt"`
	Output string    `json:"output"` // "text" (default) or "json"
	// Messages continue the conversation after the prompt: the model's
	// earlier turns and the results of the tools it called. The agent
	// loop (workflows/agent.go) keeps them in the workflow.
	Messages []chatMessage `json:"messages"`
	// Tools the model may call.
	Tools []modelTool `json:"tools"`
	// MaxTokens caps the answer below model.max_tokens: what the run's
	// budgets leave. 0 = model.max_tokens alone.
	MaxTokens int `json:"max_tokens"`
	// OutputSchema is the JSON Schema the answer must satisfy. The
	// workflow checks it; the echo provider answers with its examples[0].
	OutputSchema json.RawMessage `json:"output_schema"`
}

// modelTool is a tool the model may call, as the workflow describes it.
type modelTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// toolCall is a call the model asked for; Arguments is JSON text, as the
// model wrote it.
type toolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type modelSpec struct {
	Provider    string   `json:"provider"`
	Name        string   `json:"name"`
	Endpoint    string   `json:"endpoint"`
	APIKeyEnv   string   `json:"api_key_env"`
	Temperature *float64 `json:"temperature"`
	MaxTokens   int      `json:"max_tokens"`
}

type modelUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type modelOutput struct {
	Content      string          `json:"content"`
	Model        string          `json:"model"`
	Usage        modelUsage      `json:"usage"`
	FinishReason string          `json:"finish_reason,omitempty"`
	JSON         json.RawMessage `json:"json,omitempty"`
	ToolCalls    []toolCall      `json:"tool_calls,omitempty"`
}

// The OpenAI chat-completions wire format, as much of it as model.chat uses.
type (
	chatRequest struct {
		Model       string        `json:"model"`
		Messages    []chatMessage `json:"messages"`
		Temperature *float64      `json:"temperature,omitempty"`
		MaxTokens   int           `json:"max_tokens,omitempty"`
		// MaxCompletionTokens replaces MaxTokens for the models that
		// refuse it (OpenAI's o-series and newer).
		MaxCompletionTokens int        `json:"max_completion_tokens,omitempty"`
		Tools               []wireTool `json:"tools,omitempty"`
	}
	// chatMessage is one message. Content is a string for every role; an
	// assistant turn that only calls tools has "" and ToolCalls.
	chatMessage struct {
		Role       string         `json:"role"`
		Content    string         `json:"content"`
		ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	wireTool struct {
		Type     string    `json:"type"` // "function"
		Function modelTool `json:"function"`
	}
	wireToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"` // "function"
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	chatResponse struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content   *string        `json:"content"`
				ToolCalls []wireToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *modelUsage `json:"usage"`
	}
	chatError struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
)

// runModelChat asks a model and returns {"content", "model", "usage",
// "finish_reason"}, plus "tool_calls" when the model calls tools and
// "json" when args.output is "json" (and it answered). The total token
// count goes to Result.Metrics["tokens"] for the run's budget.
func (r *Runner) runModelChat(ctx context.Context, call activities.Call) (activities.Result, error) {
	const tool = "model.chat"
	var args modelArgs
	if err := json.Unmarshal(orEmptyObject(call.Args), &args); err != nil {
		return activities.Result{}, badArgs(tool, "%s", describeDecodeError(err, &args))
	}
	if args.Output != "" && args.Output != "text" && args.Output != "json" {
		return activities.Result{}, badArgs(tool, `"output" is "text" or "json", not %q`, args.Output)
	}
	var (
		out modelOutput
		err error
	)
	switch args.Model.Provider {
	case ProviderOpenAI:
		out, err = r.chatOpenAI(ctx, args, call)
	case ProviderEcho:
		out = chatEcho(args)
	case "":
		return activities.Result{}, badArgs(tool, `"model.provider" is required: %q or %q`, ProviderOpenAI, ProviderEcho)
	default:
		return activities.Result{}, badArgs(tool, "unknown model provider %q; model.chat speaks %q (any OpenAI-compatible endpoint) and %q",
			args.Model.Provider, ProviderOpenAI, ProviderEcho)
	}
	if err != nil {
		return activities.Result{}, err
	}
	if args.Output == "json" && len(out.ToolCalls) == 0 {
		text := stripCodeFence(out.Content)
		if !json.Valid([]byte(text)) {
			return activities.Result{}, failed(tool, nil, "the model's answer is not JSON, and the step asked for output: json: %s", snippet([]byte(out.Content), 200))
		}
		out.JSON = json.RawMessage(text)
	}
	res, err := output(tool, out)
	if err != nil {
		return res, err
	}
	res.Metrics = map[string]float64{"tokens": float64(out.Usage.TotalTokens)}
	return res, nil
}

// chatOpenAI makes one chat-completions request. 429 and 5xx answers are
// retryable (429 honours Retry-After); any other 4xx is not, and carries
// the provider's own message. Like every tool that reaches the network or
// the worker's environment, it needs the endpoint's host in
// policy.grants.http_hosts and the api_key_env variable in
// policy.grants.env: a model block cannot send a worker's secrets anywhere
// the policy did not name.
func (r *Runner) chatOpenAI(ctx context.Context, args modelArgs, call activities.Call) (modelOutput, error) {
	const tool = "model.chat"
	m := args.Model
	if m.Endpoint == "" || m.Name == "" {
		return modelOutput{}, badArgs(tool, `provider "openai" needs model.endpoint (e.g. "https://api.openai.com/v1") and model.name`)
	}
	req := chatRequest{Model: m.Name, Temperature: m.Temperature, MaxTokens: maxTokens(args)}
	req.Messages = conversation(args)
	for _, t := range args.Tools {
		req.Tools = append(req.Tools, wireTool{Type: "function", Function: t})
	}
	endpoint := strings.TrimRight(m.Endpoint, "/") + "/chat/completions"
	u, err := url.Parse(endpoint)
	if err != nil {
		return modelOutput{}, badArgs(tool, "model.endpoint %q: %v", m.Endpoint, err)
	}
	if err := checkHost(ctx, call, tool, u); err != nil {
		return modelOutput{}, err
	}
	if m.APIKeyEnv != "" && !slices.Contains(call.Grants.Env, m.APIKeyEnv) {
		if err := activities.CeilingRefusal(ctx, call, activities.GrantEnv, m.APIKeyEnv,
			func(v string) bool { return v == m.APIKeyEnv }); err != nil {
			return modelOutput{}, err
		}
		return modelOutput{}, refused(tool, "model.api_key_env %s is not granted; add it to policy.grants.env", m.APIKeyEnv)
	}
	key := endpoint + " " + m.Name
	if _, ok := completionTokensOnly.Load(key); ok {
		req.MaxCompletionTokens, req.MaxTokens = req.MaxTokens, 0
	}
	out, err := r.postChat(ctx, endpoint, m.APIKeyEnv, req)
	if req.MaxTokens > 0 && wantsCompletionTokens(err) {
		// Newer OpenAI models refuse max_tokens with a 400 that names
		// max_completion_tokens: ask once more with that, and remember.
		completionTokensOnly.Store(key, true)
		req.MaxCompletionTokens, req.MaxTokens = req.MaxTokens, 0
		out, err = r.postChat(ctx, endpoint, m.APIKeyEnv, req)
	}
	return out, err
}

// completionTokensOnly holds "endpoint model" keys of models that refused
// max_tokens, so later calls send max_completion_tokens at once.
var completionTokensOnly sync.Map

// errMaxTokensParam marks a 400 that asks for max_completion_tokens.
type errMaxTokensParam struct{ error }

func wantsCompletionTokens(err error) bool {
	var e errMaxTokensParam
	return errors.As(err, &e)
}

// maxTokens is the answer cap to send: model.max_tokens, lowered to
// args.max_tokens (what the budgets leave) when that is set.
func maxTokens(args modelArgs) int {
	n := args.Model.MaxTokens
	if args.MaxTokens > 0 && (n == 0 || args.MaxTokens < n) {
		n = args.MaxTokens
	}
	return n
}

// conversation is the messages to send: system, prompt, then the rest.
func conversation(args modelArgs) []chatMessage {
	var msgs []chatMessage
	if args.System != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: args.System})
	}
	msgs = append(msgs, chatMessage{Role: "user", Content: args.Prompt})
	return append(msgs, args.Messages...)
}

// postChat sends one chat-completions request and reads its answer.
func (r *Runner) postChat(ctx context.Context, endpoint, apiKeyEnv string, req chatRequest) (modelOutput, error) {
	const tool = "model.chat"
	body, err := json.Marshal(req)
	if err != nil {
		return modelOutput{}, badArgs(tool, "%v", err)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return modelOutput{}, badArgs(tool, "model.endpoint %q: %v", endpoint, err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json")
	keyHint := ""
	if apiKeyEnv != "" {
		if key := os.Getenv(apiKeyEnv); key != "" {
			httpReq.Header.Set("Authorization", "Bearer "+key)
		} else {
			keyHint = fmt.Sprintf(" (model.api_key_env names %s, which is empty on this worker)", apiKeyEnv)
		}
	}

	resp, err := r.model.Do(httpReq)
	if err != nil {
		if ctx.Err() != nil {
			return modelOutput{}, fmt.Errorf("%s: %s: %w", tool, endpoint, ctx.Err())
		}
		return modelOutput{}, failed(tool, err, "POST %s failed", endpoint)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.HTTPMaxBytes+1))
	if err != nil {
		return modelOutput{}, failed(tool, err, "reading the answer of %s", endpoint)
	}
	if int64(len(data)) > r.cfg.HTTPMaxBytes {
		return modelOutput{}, tooLarge(tool, "the answer of %s is over %d bytes (Config.HTTPMaxBytes)", endpoint, r.cfg.HTTPMaxBytes)
	}

	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return modelOutput{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("%s: %s is rate limiting (429): %s", tool, endpoint, providerMessage(data)),
			activities.ErrToolFailed,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"))})
	case code >= 500:
		return modelOutput{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("%s: %s answered %s: %s", tool, endpoint, resp.Status, providerMessage(data)),
			activities.ErrToolFailed,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"))})
	case code == http.StatusBadRequest && req.MaxTokens > 0 && strings.Contains(providerMessage(data), "max_completion_tokens"):
		return modelOutput{}, errMaxTokensParam{badArgs(tool, "%s refused the request with %s: %s", endpoint, resp.Status, providerMessage(data))}
	case code >= 400:
		return modelOutput{}, badArgs(tool, "%s refused the request with %s: %s%s", endpoint, resp.Status, providerMessage(data), keyHint)
	case code >= 300:
		return modelOutput{}, badArgs(tool, "%s answered %s; point model.endpoint at the API itself", endpoint, resp.Status)
	}

	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return modelOutput{}, failed(tool, err, "%s answered with something other than a chat completion: %s", endpoint, snippet(data, 200))
	}
	if len(cr.Choices) == 0 {
		return modelOutput{}, failed(tool, nil, "%s answered with no choices", endpoint)
	}
	msg := cr.Choices[0].Message
	out := modelOutput{
		Model:        cmp.Or(cr.Model, req.Model),
		FinishReason: cr.Choices[0].FinishReason,
	}
	if msg.Content != nil {
		out.Content = *msg.Content
	}
	for _, tc := range msg.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, toolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if cr.Usage != nil {
		out.Usage = *cr.Usage
		if out.Usage.TotalTokens == 0 {
			out.Usage.TotalTokens = out.Usage.PromptTokens + out.Usage.CompletionTokens
		}
	}
	return out, nil
}

// chatEcho is the "echo" provider: it answers with the prompt itself, so
// metascripts with reason steps run in demos and tests without a model
// server. Its usage counts words, not tokens, so that budgets can be
// tried, and it stops at the max_tokens it is given (finish_reason
// "length"), as a model would.
//
// With tools it acts like a model that uses each of them once: its first
// turn calls every tool with the examples[0] of the tool's schema (or {}),
// and once the results are in it answers. The answer is the output
// schema's examples[0] when there is one, else the prompt followed by one
// line per tool result.
func chatEcho(args modelArgs) modelOutput {
	prompt := len(strings.Fields(args.System)) + len(strings.Fields(args.Prompt))
	var results []string
	for _, m := range args.Messages {
		prompt += len(strings.Fields(m.Content))
		if m.Role == "tool" {
			results = append(results, m.Content)
		}
	}
	out := modelOutput{Model: ProviderEcho, FinishReason: "stop"}
	switch {
	case len(args.Tools) > 0 && len(results) == 0:
		out.FinishReason = "tool_calls"
		for i, t := range args.Tools {
			example := schemaExample(t.Parameters)
			if example == nil {
				example = json.RawMessage("{}")
			}
			out.ToolCalls = append(out.ToolCalls, toolCall{ID: fmt.Sprintf("call_%d", i+1), Name: t.Name, Arguments: string(example)})
		}
	case schemaExample(args.OutputSchema) != nil:
		out.Content = string(schemaExample(args.OutputSchema))
	default:
		out.Content = args.Prompt
		for _, r := range results {
			out.Content += "\n" + r
		}
	}
	words := strings.Fields(out.Content)
	for _, c := range out.ToolCalls {
		words = append(words, strings.Fields(c.Arguments)...)
	}
	completion := len(words)
	if limit := maxTokens(args); limit > 0 && completion > limit && len(out.ToolCalls) == 0 {
		out.Content = strings.Join(words[:limit], " ")
		out.FinishReason = "length"
		completion = limit
	}
	out.Usage = modelUsage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	return out
}

// schemaExample returns examples[0] of a JSON Schema, or nil.
func schemaExample(schema json.RawMessage) json.RawMessage {
	var s struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || len(s.Examples) == 0 {
		return nil
	}
	return s.Examples[0]
}

// providerMessage returns the message of an OpenAI-style error body, or the
// start of the body.
func providerMessage(data []byte) string {
	var e chatError
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return snippet(data, 300)
}

// retryAfter reads a Retry-After header given in seconds; 0 leaves the
// delay to the step's retry policy.
func retryAfter(h string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// stripCodeFence removes a Markdown code fence around an answer, which
// models add even when asked for bare JSON.
func stripCodeFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	inner := strings.TrimSuffix(s[3:], "```")
	if nl := strings.IndexByte(inner, '\n'); nl >= 0 {
		inner = inner[nl+1:] // drop the info string, e.g. "json"
	}
	return strings.TrimSpace(inner)
}

func orEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}
