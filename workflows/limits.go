package workflows

import (
	"errors"
	"fmt"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

// ErrValueTooLarge is the error type of a step or run that produced a value
// no Temporal history can hold: over the server's limit on one payload with
// external storage off, or over the external store's limit with it on. The
// run fails at once with the value named, instead of its workflow task
// failing in a loop (PAYLOADS_TOO_LARGE) until someone terminates it.
const ErrValueTooLarge = "ValueTooLarge"

// DefaultInlineLimit is the Temporal server's default limit on one payload
// in a history (limit.blobSize.error), used when a worker has not learnt
// its namespace's.
const DefaultInlineLimit = 2 << 20

// ValueLimits say how large one value of a run may be on the workers that
// poll one interpreter queue.
type ValueLimits struct {
	// Inline is the server's limit on one payload in the history (the
	// namespace's BlobSizeLimitError); 0 means DefaultInlineLimit.
	Inline int
	// Threshold is the external-storage threshold: payloads at or over it
	// are stored outside the history. 0: external storage is off.
	Threshold int
	// Stored is the external store's limit on one value (0: no limit of
	// its own beyond Inline, i.e. storage off).
	Stored int
	// Store names the external store for error messages ("tars-blobs",
	// "tars-s3").
	Store string
}

// storing reports whether values too large for the history are stored.
func (l ValueLimits) storing() bool {
	return l.Threshold > 0 && l.Stored > 0 && l.Threshold <= l.inline()
}

func (l ValueLimits) inline() int {
	if l.Inline > 0 {
		return l.Inline
	}
	return DefaultInlineLimit
}

// Limit is the largest encoded value a run may hold, and what sets it.
func (l ValueLimits) Limit() (int, string) {
	if l.storing() {
		return l.Stored, fmt.Sprintf("the limit of one value in the external store %s", l.Store)
	}
	return l.inline(), "the server's limit on one value in a history (external storage is off on this worker: docs/large-values.md)"
}

// valueLimits holds ValueLimits by interpreter task queue, set by whoever
// starts the interpreter's worker (it alone knows how its client stores
// payloads). A queue with none set gets the defaults: storage off, 2 MiB.
var valueLimits sync.Map // queue -> ValueLimits

// SetValueLimits says how large a value may be for the interpreter workers
// of queue (WorkflowQueue(prefix)) in this process. Call it before their
// worker starts, with the limits of the client the worker uses.
func SetValueLimits(queue string, l ValueLimits) { valueLimits.Store(queue, l) }

func limitsFor(queue string) ValueLimits {
	if v, ok := valueLimits.Load(queue); ok {
		return v.(ValueLimits)
	}
	return ValueLimits{}
}

// EncodedSize is the size of v as the interpreter sends it to the server:
// the default data converter's payload, wrapped in the Payloads message the
// server measures.
func EncodedSize(v any) (int, error) {
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		return 0, err
	}
	return proto.Size(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}}), nil
}

// checkValue returns a non-retryable ValueTooLarge error naming what (e.g.
// "run output", "rendered arguments of step x") when v would not fit in
// the run's history on the workers of queue, else nil. The size depends on
// v alone and the limit on the worker's configuration, so replaying on a
// worker configured the same takes the same decision (a worker without the
// store a run used could not read that run's values anyway).
func checkValue(queue, what string, v any) error {
	limit, why := limitsFor(queue).Limit()
	size, err := EncodedSize(v)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s cannot be encoded: %v", what, err), ErrValueTooLarge, err)
	}
	if size <= limit {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s is %s (%d bytes), over %s of %s (%d bytes)", what, formatSize(size), size, why, formatSize(limit), limit),
		ErrValueTooLarge, nil)
}

// mayExceed reports whether a value of about n bytes is worth measuring
// against the limit of queue: encoding adds little to JSON that is already
// rendered, so anything under half the limit fits.
func mayExceed(queue string, n int) bool {
	limit, _ := limitsFor(queue).Limit()
	return n > limit/2
}

func formatSize(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// checkOutput fails a run whose result would not fit in its history, naming
// its largest output.
func (r *run) checkOutput(ctx workflow.Context, res *RunResult) error {
	queue := workflow.GetInfo(ctx).TaskQueueName
	err := checkValue(queue, "the run's output", res)
	if err == nil {
		return nil
	}
	largest, size := "", 0
	for _, o := range r.p.Outputs {
		if n, e := EncodedSize(res.Outputs[o.Name]); e == nil && n > size {
			largest, size = o.Name, n
		}
	}
	if largest == "" {
		return err
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s (largest: outputs.%s, %s)", ae.Message(), largest, formatSize(size)), ErrValueTooLarge, nil)
	}
	return err
}
