//go:build !(linux && amd64)

package hyperlight

import (
	"context"
	"errors"

	"github.com/tars-engine/tars/activities"
)

// errUnsupported is what every entry point returns off Linux x86-64.
var errUnsupported = errors.New("hyperlight: micro-VMs need Linux on x86-64 with /dev/kvm")

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
