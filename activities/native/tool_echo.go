package native

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/tars-engine/tars/activities"
)

// runEcho returns args.value when args is an object with a "value" key and
// the args themselves otherwise, byte for byte.
func runEcho(_ context.Context, call activities.Call) (activities.Result, error) {
	raw := bytes.TrimSpace(call.Args)
	if len(raw) == 0 {
		return activities.Result{Output: json.RawMessage("null")}, nil
	}
	if !json.Valid(raw) {
		return activities.Result{}, badArgs("echo", "args are not valid JSON")
	}
	if raw[0] == '{' {
		var obj struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &obj); err == nil && obj.Value != nil {
			return activities.Result{Output: obj.Value}, nil
		}
	}
	return activities.Result{Output: raw}, nil
}
