//go:build !(linux && amd64)

package hyperlight

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tars-engine/tars/activities"
)

// Built reports whether this build of the package can run guests: micro-VMs
// need KVM on Linux and the guests are x86-64, so elsewhere the pool is left
// out and New fails.
const Built = false

// errUnsupported is what every entry point returns off Linux x86-64.
var errUnsupported = fmt.Errorf("hyperlight: the pool is not built for %s/%s (micro-VMs need Linux on x86-64 with /dev/kvm)", runtime.GOOS, runtime.GOARCH)

// Runner is unavailable on this platform; New always fails.
type Runner struct{}

var _ activities.Runner = (*Runner)(nil)

// New fails: hyperlight needs Linux on x86-64 with KVM.
func New(cfg Config) (*Runner, error) { return nil, errUnsupported }

// Runtime returns "hyperlight".
func (r *Runner) Runtime() string { return Runtime }

// Tools returns nothing.
func (r *Runner) Tools() []string { return nil }

// Capacity returns 0.
func (r *Runner) Capacity() int { return 0 }

// Run fails.
func (r *Runner) Run(context.Context, activities.Call) (activities.Result, error) {
	return activities.Result{}, errUnsupported
}

// Stats returns zeros.
func (r *Runner) Stats() Stats { return Stats{} }

// Close does nothing.
func (r *Runner) Close() error { return nil }
