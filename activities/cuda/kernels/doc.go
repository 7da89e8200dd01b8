// Package kernels holds the cuda pool's GPU kernels and their CPU twins.
//
// Each tool the cuda pool offers is a kernel written in CUDA C (the .cu
// files), shipped as PTX (the .ptx files, embedded here and JIT-compiled by
// the driver for whatever GPU the pool finds), and implemented once more in
// plain Go. The Go versions are the reference the GPU results are checked
// against, and what the native pool runs (its CPU twins) when a step's
// runtime chain falls from cuda to native, so both accept the same arguments
// and return the same output.
//
// This package has no dependency on the CUDA driver, cgo or Temporal: the
// native pool can import it without linking anything GPU-related. Talking to
// the GPU is the job of the parent package, activities/cuda.
//
// The .ptx files are hand-written equivalents of the .cu sources (nvcc is not
// needed to build TARS); `make -C activities/cuda/kernels` regenerates them
// with nvcc where the CUDA toolkit is installed.
package kernels
