package main

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/workflows"
)

// runOutcome says how a run that did not complete ended, in the words the
// Web UI and the trace use: cancelled, terminated, timed out or failed.
func runOutcome(id string, err error) string {
	var terminated *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	switch {
	case temporal.IsCanceledError(err):
		return fmt.Sprintf("run %s cancelled", id)
	case errors.As(err, &terminated):
		return fmt.Sprintf("run %s terminated by the server or an operator (tars trace %s shows its last steps)", id, id)
	case errors.As(err, &timeout) && !isActivityError(err):
		return fmt.Sprintf("run %s timed out: it passed policy.timeout", id)
	}
	return fmt.Sprintf("run %s failed: %s", id, workflows.Describe(err))
}

func isActivityError(err error) bool {
	var ae *temporal.ActivityError
	return errors.As(err, &ae)
}
