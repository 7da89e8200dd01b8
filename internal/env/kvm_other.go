//go:build !linux

package env

import (
	"fmt"
	"io/fs"
	"runtime"
)

func kvmAPIVersion() (int, error) {
	return 0, fmt.Errorf("KVM is Linux-only (this is %s): %w", runtime.GOOS, fs.ErrNotExist)
}
