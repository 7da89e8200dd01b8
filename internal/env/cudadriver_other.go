//go:build !linux && !windows

package env

import (
	"errors"
	"runtime"
)

func cudaDriverVersion() (int, error) {
	return 0, errors.New("the cuda pool needs Linux; this is " + runtime.GOOS)
}
