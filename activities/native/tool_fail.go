package native

import (
	"context"
	"fmt"

	"github.com/tars-engine/tars/activities"
)

type failArgs struct {
	Times        *int   `json:"times"`
	Message      string `json:"message"`
	Type         string `json:"type"`
	NonRetryable bool   `json:"non_retryable"`
}

// runFail fails while the attempt number is at most args.times, then
// succeeds with {"attempts": n}; times -1 fails on every attempt. It
// exists to show and test retry policies, on_error rules and fallbacks.
func runFail(ctx context.Context, call activities.Call) (activities.Result, error) {
	var args failArgs
	if err := decodeArgs("fail", call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	times := -1 // a bare `tool: fail` fails
	if args.Times != nil {
		times = *args.Times
	}
	if times < -1 {
		return activities.Result{}, badArgs("fail", `"times" is the number of attempts to fail, or -1 for all; got %d`, times)
	}
	n := attempt(ctx)
	if times != -1 && n > times {
		return output("fail", map[string]int{"attempts": n})
	}
	typ := args.Type
	if typ == "" {
		typ = activities.ErrToolFailed
	}
	msg := args.Message
	if msg == "" {
		if times == -1 {
			msg = fmt.Sprintf("failing as asked on every attempt (this is attempt %d)", n)
		} else {
			msg = fmt.Sprintf("failing as asked on attempt %d of the first %d", n, times)
		}
	}
	if args.NonRetryable {
		return activities.Result{}, activities.NonRetryable(typ, nil, "fail: %s", msg)
	}
	return activities.Result{}, activities.Retryable(typ, nil, "fail: %s", msg)
}
