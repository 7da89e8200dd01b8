package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/internal/blobstore"
	"github.com/tars-engine/tars/workflows"
)

// previewMax is the longest output tars result prints whole without
// --full; a longer one shows its size and its first
// workflows.PreviewBytes bytes, as the trace does.
const previewMax = 1 << 10

// fullOutputs makes printOutputs print values whole (tars result --full).
var fullOutputs bool

// outputText is how an output reads in text: a string as it is, anything
// else as JSON; past previewMax (unless full), its size and a preview.
func outputText(v any, full bool) string {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if full || len(s) <= previewMax {
		return s
	}
	return fmt.Sprintf("[%s] %s (tars result --full, or --step STEP, prints it whole)", blobstore.FormatSize(int64(len(s))), workflows.Preview(s, workflows.PreviewBytes))
}

// printStepOutput prints one step's output whole, asked of the run.
func printStepOutput(ctx context.Context, out io.Writer, c client.Client, id, step, format string) error {
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryOutput, step)
	if err != nil {
		return fmt.Errorf("run %s, step %s: %w", id, step, err)
	}
	var value any
	if err := v.Get(&value); err != nil {
		return fmt.Errorf("run %s, step %s: %w", id, step, err)
	}
	if format != outText {
		return writeDoc(out, format, map[string]any{"id": id, "step": step, "output": value})
	}
	_, err = fmt.Fprintln(out, outputText(value, true))
	return err
}
