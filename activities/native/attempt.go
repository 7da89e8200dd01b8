package native

import (
	"context"

	"go.temporal.io/sdk/activity"
)

// attemptKey carries an attempt number in a context outside an activity,
// so that tests can drive the fail tool through its attempts.
type attemptKey struct{}

// attempt returns the activity's attempt number, starting at 1. Outside an
// activity (activity.GetInfo panics there) it is the number stored under
// attemptKey, or 1.
func attempt(ctx context.Context) int {
	if activity.IsActivity(ctx) {
		return int(activity.GetInfo(ctx).Attempt)
	}
	if n, ok := ctx.Value(attemptKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}
