package native

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

// fakeOpenAI speaks the chat-completions protocol. It checks each request
// as the real API would, records it, and answers with reply(n), n counting
// requests from 1.
type fakeOpenAI struct {
	t        *testing.T
	srv      *httptest.Server
	requests atomic.Int32
	last     atomic.Value // map[string]any: the last request body
	reply    func(n int, w http.ResponseWriter)
}

func newFakeOpenAI(t *testing.T, reply func(n int, w http.ResponseWriter)) *fakeOpenAI {
	f := &fakeOpenAI{t: t, reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, req *http.Request) {
	n := int(f.requests.Add(1))
	if req.Method != http.MethodPost || req.URL.Path != "/v1/chat/completions" {
		openAIError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", req.Method, req.URL.Path), "invalid_request_error")
		return
	}
	if req.Header.Get("Content-Type") != "application/json" {
		openAIError(w, http.StatusBadRequest, "Content-Type must be application/json", "invalid_request_error")
		return
	}
	var body map[string]any
	data, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(data, &body); err != nil {
		openAIError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error")
		return
	}
	body["authorization"] = req.Header.Get("Authorization")
	f.last.Store(body)
	if _, ok := body["model"].(string); !ok {
		openAIError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error")
		return
	}
	msgs, ok := body["messages"].([]any)
	if !ok || len(msgs) == 0 {
		openAIError(w, http.StatusBadRequest, "'messages' is a required property", "invalid_request_error")
		return
	}
	for _, m := range msgs {
		m, _ := m.(map[string]any)
		switch role := m["role"]; role {
		case "system", "user", "assistant", "tool":
		default:
			openAIError(w, http.StatusBadRequest, fmt.Sprintf("invalid role %v", role), "invalid_request_error")
			return
		}
		if _, ok := m["content"].(string); !ok {
			openAIError(w, http.StatusBadRequest, "message content must be a string", "invalid_request_error")
			return
		}
		if _, ok := m["tool_call_id"].(string); m["role"] == "tool" && !ok {
			openAIError(w, http.StatusBadRequest, "messages with role 'tool' must have a 'tool_call_id'", "invalid_request_error")
			return
		}
	}
	f.reply(n, w)
}

func (f *fakeOpenAI) lastRequest() map[string]any {
	v, _ := f.last.Load().(map[string]any)
	return v
}

func openAIError(w http.ResponseWriter, code int, msg, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error": {"message": %q, "type": %q, "param": null, "code": null}}`, msg, typ)
}

func completion(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion", "created": 1741570283,
		"model": "gpt-4o-mini-2024-07-18",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil, "annotations": []any{}},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"usage": map[string]any{
			"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
			"prompt_tokens_details": map[string]any{"cached_tokens": 0},
		},
		"system_fingerprint": "fp_06737a9306",
	})
	w.Write(b)
}

func chatArgs(endpoint string, extra string) string {
	return `{"model": {"provider": "openai", "name": "gpt-4o-mini", "endpoint": "` + endpoint + `", "api_key_env": "TARS_TEST_KEY",
		"temperature": 0.2, "max_tokens": 50}, "system": "You are terse.", "prompt": "Say hi"` + extra + `}`
}

func TestModelChatOpenAI(t *testing.T) {
	t.Setenv("TARS_TEST_KEY", "sk-test")
	f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) { completion(w, "Hi.") })
	r := New(Config{})
	res, err := call(t, r, "model.chat", chatArgs(f.srv.URL+"/v1/", ""), modelGrants)
	require.NoError(t, err)
	assert.JSONEq(t, `{"content": "Hi.", "model": "gpt-4o-mini-2024-07-18", "finish_reason": "stop",
		"usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}}`, string(res.Output))
	assert.Equal(t, map[string]float64{"tokens": 29}, res.Metrics)
	assert.Equal(t, map[string]any{
		"model": "gpt-4o-mini",
		"messages": []any{
			map[string]any{"role": "system", "content": "You are terse."},
			map[string]any{"role": "user", "content": "Say hi"},
		},
		"temperature":   0.2,
		"max_tokens":    50.0,
		"authorization": "Bearer sk-test",
	}, f.lastRequest())
}

func TestModelChatRequestShape(t *testing.T) {
	f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) { completion(w, "ok") })
	r := New(Config{})
	_, err := call(t, r, "model.chat",
		`{"model": {"provider": "openai", "name": "m", "endpoint": "`+f.srv.URL+`/v1", "temperature": 0}, "prompt": "p"}`, modelGrants)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"model":         "m",
		"messages":      []any{map[string]any{"role": "user", "content": "p"}},
		"temperature":   0.0, // given, so sent, even though it is zero
		"authorization": "",  // no api_key_env, no header
	}, f.lastRequest())
}

func TestModelChatOpenAIOutputJSON(t *testing.T) {
	tests := []struct {
		name, content, want string
		wantErr             bool
	}{
		{name: "bare", content: `{"severity": "high"}`, want: `{"severity": "high"}`},
		{name: "fenced", content: "```json\n{\"severity\": \"low\"}\n```", want: `{"severity": "low"}`},
		{name: "not JSON", content: "I think it is high.", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) { completion(w, tt.content) })
			res, err := call(t, New(Config{}), "model.chat", chatArgs(f.srv.URL+"/v1", `, "output": "json"`), modelGrants)
			if tt.wantErr {
				appErr := requireAppError(t, err, activities.ErrToolFailed, false)
				assert.Contains(t, appErr.Message(), "not JSON")
				return
			}
			require.NoError(t, err)
			out := decodeOutput(t, res).(map[string]any)
			assert.Equal(t, tt.content, out["content"])
			wantJSON := decodeJSON(t, tt.want)
			assert.Equal(t, wantJSON, out["json"])
		})
	}
}

func TestModelChatOpenAIRateLimitThenSuccess(t *testing.T) {
	f := newFakeOpenAI(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			openAIError(w, http.StatusTooManyRequests, "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.", "requests")
			return
		}
		completion(w, "Hi.")
	})
	r := New(Config{})
	args := chatArgs(f.srv.URL+"/v1", "")

	_, err := call(t, r, "model.chat", args, modelGrants)
	appErr := requireAppError(t, err, activities.ErrToolFailed, false)
	assert.Contains(t, appErr.Message(), "rate limiting (429): Rate limit reached")
	assert.Equal(t, 2*time.Second, appErr.NextRetryDelay(), "Retry-After becomes the next retry delay")

	res, err := call(t, r, "model.chat", args, modelGrants)
	require.NoError(t, err, "the retry succeeds")
	assert.Equal(t, "Hi.", decodeOutput(t, res).(map[string]any)["content"])
	assert.EqualValues(t, 2, f.requests.Load())
}

func TestModelChatOpenAIErrors(t *testing.T) {
	t.Setenv("TARS_TEST_KEY", "")
	tests := []struct {
		name         string
		reply        func(n int, w http.ResponseWriter)
		args         string
		wantType     string
		nonRetryable bool
		wantMsg      string
	}{
		{name: "400 carries the provider message", reply: func(_ int, w http.ResponseWriter) {
			openAIError(w, http.StatusBadRequest, "The model `gpt-9` does not exist or you do not have access to it.", "invalid_request_error")
		}, wantType: activities.ErrBadArgs, nonRetryable: true, wantMsg: "400 Bad Request: The model `gpt-9` does not exist"},
		{name: "401 hints at the empty key", reply: func(_ int, w http.ResponseWriter) {
			openAIError(w, http.StatusUnauthorized, "You didn't provide an API key.", "invalid_request_error")
		}, wantType: activities.ErrBadArgs, nonRetryable: true, wantMsg: "model.api_key_env names TARS_TEST_KEY, which is empty on this worker"},
		{name: "500 is retryable", reply: func(_ int, w http.ResponseWriter) {
			openAIError(w, http.StatusInternalServerError, "The server had an error while processing your request.", "server_error")
		}, wantType: activities.ErrToolFailed, wantMsg: "500 Internal Server Error: The server had an error"},
		{name: "no choices", reply: func(_ int, w http.ResponseWriter) {
			fmt.Fprint(w, `{"id": "x", "object": "chat.completion", "choices": []}`)
		}, wantType: activities.ErrToolFailed, wantMsg: "no choices"},
		{name: "not a completion", reply: func(_ int, w http.ResponseWriter) {
			fmt.Fprint(w, `<html>proxy error</html>`)
		}, wantType: activities.ErrToolFailed, wantMsg: "something other than a chat completion"},
		{name: "answer over the cap", reply: func(_ int, w http.ResponseWriter) {
			completion(w, string(make([]byte, 3000)))
		}, wantType: activities.ErrOutputTooLarge, nonRetryable: true, wantMsg: "over 2000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t, tt.reply)
			_, err := call(t, New(Config{HTTPMaxBytes: 2000}), "model.chat", chatArgs(f.srv.URL+"/v1", ""), modelGrants)
			appErr := requireAppError(t, err, tt.wantType, tt.nonRetryable)
			assert.Contains(t, appErr.Message(), tt.wantMsg)
		})
	}
}

func TestModelChatOpenAIUnreachable(t *testing.T) {
	_, err := call(t, New(Config{}), "model.chat", chatArgs("http://127.0.0.1:1/v1", ""), modelGrants)
	requireAppError(t, err, activities.ErrToolFailed, false)
}

func TestModelChatUsesConfiguredClient(t *testing.T) {
	var used atomic.Bool
	client := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(req)
	})}
	f := newFakeOpenAI(t, func(_ int, w http.ResponseWriter) { completion(w, "ok") })
	_, err := call(t, New(Config{ModelHTTPClient: client}), "model.chat", chatArgs(f.srv.URL+"/v1", ""), modelGrants)
	require.NoError(t, err)
	assert.True(t, used.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestModelChatEcho(t *testing.T) {
	tests := []struct {
		name, args, want string
		wantType         string
		tokens           float64
	}{
		{name: "text", args: `{"model": {"provider": "echo"}, "system": "be brief", "prompt": "Plan an investigation of disk full"}`,
			want:   `{"content": "Plan an investigation of disk full", "model": "echo", "finish_reason": "stop", "usage": {"prompt_tokens": 8, "completion_tokens": 6, "total_tokens": 14}}`,
			tokens: 14},
		{name: "json", args: `{"model": {"provider": "echo"}, "prompt": "{\"a\": 1}", "output": "json"}`,
			want:   `{"content": "{\"a\": 1}", "json": {"a": 1}, "model": "echo", "finish_reason": "stop", "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}`,
			tokens: 4},
		{name: "json wanted, text given", args: `{"model": {"provider": "echo"}, "prompt": "hello", "output": "json"}`, wantType: activities.ErrToolFailed},
		{name: "unknown fields tolerated", args: `{"model": {"provider": "echo", "future": 1}, "prompt": "x", "agent": "planner"}`,
			want:   `{"content": "x", "model": "echo", "finish_reason": "stop", "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}`,
			tokens: 2},
		{name: "no provider", args: `{"prompt": "x"}`, wantType: activities.ErrBadArgs},
		{name: "unknown provider", args: `{"model": {"provider": "anthropic"}, "prompt": "x"}`, wantType: activities.ErrBadArgs},
		{name: "openai without endpoint", args: `{"model": {"provider": "openai", "name": "m"}, "prompt": "x"}`, wantType: activities.ErrBadArgs},
		{name: "bad output", args: `{"model": {"provider": "echo"}, "prompt": "x", "output": "yaml"}`, wantType: activities.ErrBadArgs},
		{name: "wrong type", args: `{"model": {"provider": "echo", "max_tokens": "ten"}, "prompt": "x"}`, wantType: activities.ErrBadArgs},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "model.chat", tt.args, modelGrants)
			if tt.wantType != "" {
				requireAppError(t, err, tt.wantType, tt.wantType != activities.ErrToolFailed)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			assert.Equal(t, map[string]float64{"tokens": tt.tokens}, res.Metrics)
		})
	}
}

func TestRetryAfter(t *testing.T) {
	assert.Equal(t, 3*time.Second, retryAfter("3"))
	assert.Zero(t, retryAfter(""))
	assert.Zero(t, retryAfter("soon"))
	d := retryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
	assert.InDelta(t, float64(time.Minute), float64(d), float64(2*time.Second))
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

// modelGrants are what a policy must grant for the test's OpenAI server.
var modelGrants = activities.Grants{HTTPHosts: []string{"127.0.0.1"}, Env: []string{"TARS_TEST_KEY"}}

func TestModelChatOpenAINeedsGrants(t *testing.T) {
	f := newFakeOpenAI(t, func(int, http.ResponseWriter) { t.Error("the endpoint was reached without the grants") })
	for _, c := range []struct {
		grants activities.Grants
		want   string
	}{
		{activities.Grants{}, `host "127.0.0.1" is not granted; add it to policy.grants.http_hosts`},
		{activities.Grants{HTTPHosts: []string{"127.0.0.1"}}, "model.api_key_env TARS_TEST_KEY is not granted; add it to policy.grants.env"},
	} {
		_, err := call(t, New(Config{}), "model.chat", chatArgs(f.srv.URL+"/v1", ""), c.grants)
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, activities.ErrPolicyRefused, ae.Type())
		assert.True(t, ae.NonRetryable())
		assert.Contains(t, ae.Message(), c.want)
	}
	assert.Zero(t, f.requests.Load(), "nothing reaches the endpoint without the grants")
}
