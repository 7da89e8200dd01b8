package native

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/tars-engine/tars/activities"
)

// call runs tool with args (marshalled unless already raw JSON) and grants.
func call(t testing.TB, r *Runner, tool string, args any, grants activities.Grants) (activities.Result, error) {
	t.Helper()
	return callCtx(context.Background(), t, r, tool, args, grants)
}

func callCtx(ctx context.Context, t testing.TB, r *Runner, tool string, args any, grants activities.Grants) (activities.Result, error) {
	t.Helper()
	var raw json.RawMessage
	switch a := args.(type) {
	case nil:
	case string:
		raw = json.RawMessage(a)
	default:
		b, err := json.Marshal(a)
		require.NoError(t, err)
		raw = b
	}
	return r.Run(ctx, activities.Call{Step: "s", Runtime: RuntimeName, Tool: tool, Args: raw, Grants: grants})
}

// requireAppError asserts that err is an application error of the given
// type and retryability, and returns it.
func requireAppError(t testing.TB, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application error, got %T: %v", err, err)
	assert.Equal(t, typ, appErr.Type(), "type of %v", err)
	assert.Equal(t, nonRetryable, appErr.NonRetryable(), "non-retryable of %v", err)
	return appErr
}

// decodeOutput decodes a Result's output into a generic value.
func decodeOutput(t testing.TB, res activities.Result) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(res.Output, &v), "output %s", res.Output)
	return v
}

func withAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

func TestNewDefaults(t *testing.T) {
	r := New(Config{})
	defer r.Close()
	assert.Equal(t, "native", r.Runtime())
	assert.Equal(t, defaultCapacity, r.Capacity())
	assert.Equal(t, 7, New(Config{Capacity: 7}).Capacity())
	assert.Equal(t, defaultHTTPTimeout, r.cfg.HTTPTimeout)
	assert.EqualValues(t, 4<<20, r.cfg.HTTPMaxBytes)
	assert.EqualValues(t, 1<<20, r.cfg.OutputMaxBytes)
	assert.NotNil(t, r.log)
}

func TestToolsAndBuiltinNames(t *testing.T) {
	r := New(Config{})
	want := []string{
		"echo", "fail", "file.read", "file.write", "http.request", "json-field", "json.query", "json.transform",
		"matmul", "model.chat", "policy-check", "sha256", "shell", "sleep", "text.template", "vector.topk",
	}
	assert.Equal(t, want, BuiltinNames())
	assert.Equal(t, want, r.Tools())
	assert.IsIncreasing(t, BuiltinNames())

	described := r.Describe()
	require.Len(t, described, len(want))
	for i, tool := range described {
		assert.Equal(t, want[i], tool.Name)
		assert.NotEmpty(t, tool.Description, tool.Name)
		assert.NotNil(t, tool.Func, tool.Name)
	}
}

func TestRegister(t *testing.T) {
	noop := func(context.Context, activities.Call) (activities.Result, error) {
		return activities.Result{Output: json.RawMessage(`"ok"`)}, nil
	}
	tests := []struct {
		name    string
		tool    Tool
		wantErr string
	}{
		{"new tool", Tool{Name: "acme.lookup", Description: "d", Func: noop}, ""},
		{"duplicate of a built-in", Tool{Name: "echo", Func: noop}, `tool "echo" is already registered`},
		{"empty name", Tool{Func: noop}, "needs a name"},
		{"colon in name", Tool{Name: "native:x", Func: noop}, `may not contain ":"`},
		{"space in name", Tool{Name: "a b", Func: noop}, `may not contain " "`},
		{"no func", Tool{Name: "nofunc"}, "has no Func"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			err := r.Register(tt.tool)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, r.Tools(), tt.tool.Name)
			res, err := call(t, r, tt.tool.Name, nil, activities.Grants{})
			require.NoError(t, err)
			assert.JSONEq(t, `"ok"`, string(res.Output))

			err = r.Register(tt.tool)
			require.ErrorContains(t, err, "already registered", "registering twice")
		})
	}
}

func TestRunUnknownTool(t *testing.T) {
	r := New(Config{})
	_, err := call(t, r, "nope", nil, activities.Grants{})
	appErr := requireAppError(t, err, activities.ErrToolNotFound, true)
	assert.Contains(t, appErr.Message(), `"nope"`)
	assert.Contains(t, appErr.Message(), "echo, fail, file.read")
}

func TestRunChecksOutput(t *testing.T) {
	tests := []struct {
		name     string
		output   string
		wantType string
		want     string
	}{
		{"empty output becomes null", "", "", "null"},
		{"valid JSON passes", `{"a":1}`, "", `{"a":1}`},
		{"invalid JSON", `{"a":`, activities.ErrToolFailed, ""},
		{"too large", `"` + strings.Repeat("x", 200) + `"`, activities.ErrOutputTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{OutputMaxBytes: 100})
			require.NoError(t, r.Register(Tool{Name: "emit", Func: func(context.Context, activities.Call) (activities.Result, error) {
				return activities.Result{Output: json.RawMessage(tt.output)}, nil
			}}))
			res, err := call(t, r, "emit", nil, activities.Grants{})
			if tt.wantType != "" {
				requireAppError(t, err, tt.wantType, true)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
		})
	}
}

// TestRunInActivity runs tools through Temporal's activity test
// environment, where activity.GetInfo works and Run heartbeats.
func TestRunInActivity(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	r := New(Config{})
	env.RegisterActivity(r.Run)

	val, err := env.ExecuteActivity(r.Run, activities.Call{Tool: "fail", Args: json.RawMessage(`{"times": 0}`)})
	require.NoError(t, err)
	var res activities.Result
	require.NoError(t, val.Get(&res))
	assert.JSONEq(t, `{"attempts": 1}`, string(res.Output), "attempt comes from the activity info")

	_, err = env.ExecuteActivity(r.Run, activities.Call{Tool: "fail", Args: json.RawMessage(`{"times": 1, "type": "Flaky"}`)})
	requireAppError(t, err, "Flaky", false)

	_, err = env.ExecuteActivity(r.Run, activities.Call{Tool: "sleep", Args: json.RawMessage(`{"duration": "1ms"}`)})
	require.NoError(t, err)
}

// BenchmarkEcho measures what Run adds to the cheapest tool: lookup,
// output check and the debug log call.
func BenchmarkEcho(b *testing.B) {
	r := New(Config{})
	c := activities.Call{Step: "s", Tool: "echo", Args: json.RawMessage(`{"value": {"id": 42, "name": "x"}}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
