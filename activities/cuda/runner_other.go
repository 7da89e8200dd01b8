//go:build !(linux || windows)

package cuda

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tars-engine/tars/activities"
)

// Built reports whether this build of the package can run kernels: NVIDIA's
// CUDA driver exists for Linux and Windows only, so elsewhere the pool is
// left out and New fails.
const Built = false

// DefaultLibrary names no library: there is no CUDA driver for this platform.
const DefaultLibrary = ""

// errNotBuilt is what New returns where there is no CUDA driver.
var errNotBuilt = fmt.Errorf("%w: the cuda pool is not built for %s/%s (NVIDIA's CUDA driver is for Linux and Windows)", ErrNoDriver, runtime.GOOS, runtime.GOARCH)

// Runner is unavailable on this platform; New always fails.
type Runner struct{}

var _ activities.Runner = (*Runner)(nil)

// New fails: there is no CUDA driver for this platform.
func New(Config) (*Runner, error) { return nil, errNotBuilt }

// Runtime returns "cuda".
func (r *Runner) Runtime() string { return Runtime }

// Tools returns nothing.
func (r *Runner) Tools() []string { return nil }

// Capacity returns 0.
func (r *Runner) Capacity() int { return 0 }

// Devices returns nothing.
func (r *Runner) Devices() []Device { return nil }

// Startup returns zeros.
func (r *Runner) Startup() Startup { return Startup{} }

// Run fails.
func (r *Runner) Run(context.Context, activities.Call) (activities.Result, error) {
	return activities.Result{}, errNotBuilt
}

// Close does nothing.
func (r *Runner) Close() error { return nil }
