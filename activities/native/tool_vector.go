package native

import (
	"context"
	"strings"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// runVectorTopK is the CPU twin of the cuda pool's vector.topk: the same
// arguments, defaults and output (kernels.TopKResult), computed by the CPU
// reference the GPU kernel is checked against, so a [cuda, native] step
// gets the same shape whichever pool serves it. Scores may differ from the
// GPU's in the last float32 digits.
func runVectorTopK(_ context.Context, call activities.Call) (activities.Result, error) {
	var args kernels.TopKArgs
	if err := decodeArgs(kernels.ToolTopK, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	out, err := kernels.TopKCPU(args)
	if err != nil {
		return activities.Result{}, kernelArgs(kernels.ToolTopK, err)
	}
	return output(kernels.ToolTopK, out)
}

// runMatMul is the CPU twin of the cuda pool's matmul (kernels.MatMulCPU),
// bounded by kernels.MaxMatMulFMAs (a few seconds of one core).
func runMatMul(_ context.Context, call activities.Call) (activities.Result, error) {
	var args kernels.MatMulArgs
	if err := decodeArgs(kernels.ToolMatMul, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	out, err := kernels.MatMulCPU(args)
	if err != nil {
		return activities.Result{}, kernelArgs(kernels.ToolMatMul, err)
	}
	return output(kernels.ToolMatMul, out)
}

// kernelArgs reports a kernels argument error ("bad arguments: tool: msg")
// as BadArgs; badArgs puts the tool name back.
func kernelArgs(tool string, err error) error {
	msg := strings.TrimPrefix(err.Error(), kernels.ErrBadArgs.Error()+": ")
	return badArgs(tool, "%s", strings.TrimPrefix(msg, tool+": "))
}
