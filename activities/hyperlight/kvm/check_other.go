//go:build !(linux && amd64)

package kvm

import "errors"

// WantAPIVersion is the only KVM API version this package speaks.
const WantAPIVersion = 12

var errUnsupported = errors.New("kvm: KVM needs Linux on x86-64")

// APIVersion fails: KVM needs Linux on x86-64.
func APIVersion() (int, error) { return 0, errUnsupported }

// Check reports that KVM is unavailable on this platform.
func Check() error { return errUnsupported }
