//go:build windows

package cuda

import "errors"

// The pool is built for Linux GPU workers; on Windows it refuses to start.
var errNotLinux = errors.New("the cuda pool runs on Linux only")

func openLibrary(string) (uintptr, error) { return 0, errNotLinux }

func librarySymbol(uintptr, string) (uintptr, error) { return 0, errNotLinux }
