package native

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

// toolCallsReply answers with a turn that calls tools, as OpenAI does.
func toolCallsReply(w http.ResponseWriter, calls ...[2]string) {
	var tc []any
	for i, c := range calls {
		tc = append(tc, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function",
			"function": map[string]any{"name": c[0], "arguments": c[1]}})
	}
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls",
			"message": map[string]any{"role": "assistant", "content": nil, "tool_calls": tc}}},
		"usage": map[string]any{"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
	})
	w.Write(b)
}

func TestModelChatToolCalls(t *testing.T) {
	f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) {
		toolCallsReply(w, [2]string{"wasm_log-scan", `{"service":"api"}`})
	})
	args := `{"model": {"provider": "openai", "name": "gpt-4o-mini", "endpoint": "` + f.srv.URL + `/v1", "max_tokens": 500},
		"prompt": "Investigate", "max_tokens": 80,
		"tools": [{"name": "wasm_log-scan", "description": "scan logs", "parameters": {"type": "object"}}],
		"messages": [
			{"role": "assistant", "content": "", "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "wasm_log-scan", "arguments": "{}"}}]},
			{"role": "tool", "tool_call_id": "call_0", "content": "{\"errors\": 2}"}]}`
	res, err := call(t, New(Config{}), "model.chat", args, modelGrants)
	require.NoError(t, err)
	assert.JSONEq(t, `{"content": "", "model": "gpt-4o-mini-2024-07-18", "finish_reason": "tool_calls",
		"usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
		"tool_calls": [{"id": "call_0", "name": "wasm_log-scan", "arguments": "{\"service\":\"api\"}"}]}`, string(res.Output))

	req := f.lastRequest()
	assert.Equal(t, 80.0, req["max_tokens"], "the budget's cap is lower than model.max_tokens, so it is sent")
	assert.Equal(t, []any{map[string]any{"type": "function", "function": map[string]any{
		"name": "wasm_log-scan", "description": "scan logs", "parameters": map[string]any{"type": "object"}}}}, req["tools"])
	msgs := req["messages"].([]any)
	require.Len(t, msgs, 3, "prompt, the model's tool-call turn, the tool's result")
	assert.Equal(t, "tool", msgs[2].(map[string]any)["role"])
	assert.Equal(t, "call_0", msgs[2].(map[string]any)["tool_call_id"])
}

// TestModelChatMaxCompletionTokens reproduces the 400 newer OpenAI models
// give for max_tokens: model.chat asks again with max_completion_tokens,
// and sends that at once from then on.
func TestModelChatMaxCompletionTokens(t *testing.T) {
	var bodies []map[string]any
	f := newFakeOpenAI(t, nil)
	f.reply = func(_ int, w http.ResponseWriter) {
		req := f.lastRequest()
		bodies = append(bodies, req)
		if _, ok := req["max_tokens"]; ok {
			openAIError(w, http.StatusBadRequest, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "invalid_request_error")
			return
		}
		completion(w, "ok")
	}
	args := `{"model": {"provider": "openai", "name": "o4-mini", "endpoint": "` + f.srv.URL + `/v1", "max_tokens": 64}, "prompt": "p"}`
	r := New(Config{})
	res, err := call(t, r, "model.chat", args, modelGrants)
	require.NoError(t, err)
	assert.Equal(t, "ok", decodeOutput(t, res).(map[string]any)["content"])
	require.Len(t, bodies, 2)
	assert.Equal(t, 64.0, bodies[1]["max_completion_tokens"])
	assert.NotContains(t, bodies[1], "max_tokens")

	_, err = call(t, r, "model.chat", args, modelGrants)
	require.NoError(t, err)
	require.Len(t, bodies, 3, "the second call sends max_completion_tokens at once")
	assert.Equal(t, 64.0, bodies[2]["max_completion_tokens"])
}

func TestModelChat5xxHonoursRetryAfter(t *testing.T) {
	f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		openAIError(w, http.StatusServiceUnavailable, "The engine is currently overloaded, please try again later", "server_error")
	})
	_, err := call(t, New(Config{}), "model.chat", chatArgs(f.srv.URL+"/v1", ""), modelGrants)
	appErr := requireAppError(t, err, activities.ErrToolFailed, false)
	assert.Equal(t, 7*time.Second, appErr.NextRetryDelay())
	assert.Contains(t, appErr.Message(), "503 Service Unavailable: The engine is currently overloaded")
}

func TestModelChatEchoTools(t *testing.T) {
	r := New(Config{})
	tools := `"tools": [{"name": "wasm_log-scan", "parameters": {"type": "object", "examples": [{"service": "api"}]}},
		{"name": "native_echo", "parameters": {"type": "object"}}]`
	res, err := call(t, r, "model.chat", `{"model": {"provider": "echo"}, "prompt": "look", `+tools+`}`, modelGrants)
	require.NoError(t, err)
	out := decodeOutput(t, res).(map[string]any)
	assert.Equal(t, "tool_calls", out["finish_reason"])
	assert.Equal(t, []any{
		map[string]any{"id": "call_1", "name": "wasm_log-scan", "arguments": `{"service": "api"}`},
		map[string]any{"id": "call_2", "name": "native_echo", "arguments": `{}`},
	}, out["tool_calls"])

	// With the results in, it answers: the output schema's example.
	res, err = call(t, r, "model.chat", `{"model": {"provider": "echo"}, "prompt": "look", `+tools+`,
		"messages": [{"role": "tool", "tool_call_id": "call_1", "content": "{\"errors\": 1}"}],
		"output_schema": {"type": "object", "examples": [{"summary": "db timeouts"}]}}`, modelGrants)
	require.NoError(t, err)
	out = decodeOutput(t, res).(map[string]any)
	assert.Equal(t, `{"summary": "db timeouts"}`, out["content"])
	assert.Nil(t, out["tool_calls"])
}

func TestModelChatEchoStopsAtMaxTokens(t *testing.T) {
	res, err := call(t, New(Config{}), "model.chat", `{"model": {"provider": "echo", "max_tokens": 100}, "prompt": "one two three four five", "max_tokens": 3}`, modelGrants)
	require.NoError(t, err)
	assert.JSONEq(t, `{"content": "one two three", "model": "echo", "finish_reason": "length",
		"usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}`, string(res.Output))
}
