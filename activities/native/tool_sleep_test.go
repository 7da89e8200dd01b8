package native

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestSleep(t *testing.T) {
	tests := []struct {
		name, args, want, wantType string
	}{
		{name: "sleeps", args: `{"duration": "20ms"}`, want: `{"slept": "20ms"}`},
		{name: "zero", args: `{"duration": "0s"}`, want: `{"slept": "0s"}`},
		{name: "missing duration", args: `{}`, wantType: activities.ErrBadArgs},
		{name: "number is not a duration", args: `{"duration": 250}`, wantType: activities.ErrBadArgs},
		{name: "bad unit", args: `{"duration": "5 parsecs"}`, wantType: activities.ErrBadArgs},
		{name: "negative", args: `{"duration": "-1s"}`, wantType: activities.ErrBadArgs},
		{name: "unknown field", args: `{"duraton": "1s"}`, wantType: activities.ErrBadArgs},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := call(t, r, "sleep", tt.args, activities.Grants{})
			if tt.wantType != "" {
				requireAppError(t, err, tt.wantType, true)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			if tt.name == "sleeps" {
				assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
			}
		})
	}
}

func TestSleepHonoursCancellation(t *testing.T) {
	r := New(Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := callCtx(ctx, t, r, "sleep", `{"duration": "1h"}`, activities.Grants{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, err.Error(), "interrupted after")
}

func TestUnknownFieldNamesTheFields(t *testing.T) {
	r := New(Config{})
	_, err := call(t, r, "http.request", `{"url": "http://x", "timout": "1s"}`, activities.Grants{})
	appErr := requireAppError(t, err, activities.ErrBadArgs, true)
	assert.Contains(t, appErr.Message(), `unknown field "timout"`)
	assert.Contains(t, appErr.Message(), "method, url, headers, body, timeout")

	_, err = call(t, r, "vector.topk", `{"k": "five"}`, activities.Grants{})
	appErr = requireAppError(t, err, activities.ErrBadArgs, true)
	assert.Contains(t, appErr.Message(), `"k" must be an integer, not string`)
}
