//go:build linux

package env

import (
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

// cudaDriverVersion loads libcuda.so.1 as the cuda pool does (purego, no
// cgo) and returns cuDriverGetVersion. It does not call cuInit. The library
// stays loaded: the cuda pool will load it again in this process.
func cudaDriverVersion() (int, error) {
	lib, err := purego.Dlopen("libcuda.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		if strings.Contains(err.Error(), "No such file") {
			return 0, fmt.Errorf("libcuda.so.1 not found")
		}
		return 0, fmt.Errorf("libcuda.so.1 does not load: %v", err)
	}
	sym, err := purego.Dlsym(lib, "cuDriverGetVersion")
	if err != nil {
		return 0, fmt.Errorf("libcuda.so.1 has no cuDriverGetVersion: %v", err)
	}
	var getVersion func(*int32) int32
	purego.RegisterFunc(&getVersion, sym)
	var v int32
	if code := getVersion(&v); code != 0 {
		return 0, fmt.Errorf("cuDriverGetVersion: CUresult %d", code)
	}
	return int(v), nil
}
