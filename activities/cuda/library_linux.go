//go:build linux

package cuda

import "github.com/ebitengine/purego"

// DefaultLibrary is the CUDA driver library New loads when Config.Library is
// empty. The driver package installs it; the CUDA toolkit is not needed.
const DefaultLibrary = "libcuda.so.1"

func openLibrary(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

func librarySymbol(lib uintptr, name string) (uintptr, error) {
	return purego.Dlsym(lib, name)
}
