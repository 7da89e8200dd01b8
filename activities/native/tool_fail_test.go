package native

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestFail(t *testing.T) {
	tests := []struct {
		name         string
		args         string
		attempt      int // 0: no attempt in the context, which reads as 1
		want         string
		wantType     string
		nonRetryable bool
		wantMsg      string
	}{
		{name: "fails first attempt", args: `{"times": 2}`, attempt: 1, wantType: activities.ErrToolFailed, wantMsg: "attempt 1 of the first 2"},
		{name: "fails second attempt", args: `{"times": 2}`, attempt: 2, wantType: activities.ErrToolFailed},
		{name: "succeeds after", args: `{"times": 2}`, attempt: 3, want: `{"attempts": 3}`},
		{name: "times 0 succeeds", args: `{"times": 0}`, want: `{"attempts": 1}`},
		{name: "custom type and message", args: `{"times": 1, "type": "Flaky", "message": "boom"}`, wantType: "Flaky", wantMsg: "fail: boom"},
		{name: "always", args: `{"times": -1}`, attempt: 99, wantType: activities.ErrToolFailed, wantMsg: "every attempt"},
		{name: "bare fail fails always", args: ``, attempt: 5, wantType: activities.ErrToolFailed},
		{name: "always non-retryable", args: `{"times": -1, "non_retryable": true, "type": "Fatal"}`, wantType: "Fatal", nonRetryable: true},
		{name: "bad times", args: `{"times": -2}`, wantType: activities.ErrBadArgs, nonRetryable: true},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.attempt > 0 {
				ctx = withAttempt(ctx, tt.attempt)
			}
			res, err := callCtx(ctx, t, r, "fail", tt.args, activities.Grants{})
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, tt.nonRetryable)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
		})
	}
}
