// Package env detects what this machine can run, for `tars env` and for
// choosing the pools `tars dev` and `tars worker` start when no pool list is
// given.
//
// Detect gathers a Report: the OS, container and Kubernetes context, CPUs and
// memory, KVM (for the hyperlight pool), NVIDIA GPUs through NVML and the CUDA
// driver (for the cuda pool) and whether wazero can compile to machine code
// (for the wasm pool). Every input comes through Probes, so each case can be
// faked in a test; RealProbes reads the machine. Detection is read-only and
// fast (a few milliseconds without a GPU; NVML's own start-up with one).
//
// A pool still checks its runtime itself when it starts and refuses to start
// with its own message: this package decides which pools to try and explains
// the others, it does not start or size them.
//
// NVML comes from github.com/NVIDIA/go-nvml, which needs cgo to build but
// loads libnvidia-ml.so.1 only at run time, so the binary starts where there
// is no driver. A binary built with CGO_ENABLED=0 reports the cuda pool as
// unavailable and says why.
package env
