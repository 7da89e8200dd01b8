//go:build !linux && !windows

package env

import (
	"errors"
	"runtime"
)

// nvmlProbe is unavailable: the cuda pool needs NVIDIA's Linux driver.
func nvmlProbe() (GPUInfo, error) {
	return GPUInfo{}, errors.New("the cuda pool needs Linux with the NVIDIA driver; this is " + runtime.GOOS)
}
