package kernels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadArgs is wrapped by every error caused by a call's arguments, so that
// a pool can report it as a non-retryable activities.ErrBadArgs.
var ErrBadArgs = errors.New("bad arguments")

// MaxElements bounds the floats in one matrix argument (256 Mi floats, 1 GiB).
// Temporal's payload limit keeps real calls far smaller; the bound protects
// pools from a call that would exhaust memory.
const MaxElements = 1 << 28

// Tools lists the tools implemented here, in the order pools report them.
var Tools = []string{ToolTopK, ToolMatMul}

// Decode unmarshals a tool's JSON arguments into v, rejecting unknown fields
// so that a misspelt argument fails the call instead of being ignored.
// Errors wrap ErrBadArgs.
func Decode(tool string, args json.RawMessage, v any) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s: no arguments", ErrBadArgs, tool)
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadArgs, tool, err)
	}
	return nil
}
