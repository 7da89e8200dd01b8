// Package cuda is the cuda worker pool's runtime: it runs the tools of
// package kernels (vector.topk, matmul) as PTX kernels on NVIDIA GPUs through
// the CUDA driver API.
//
// The driver (libcuda.so.1) is loaded when New runs, with purego rather than
// cgo, so the tars binary builds and starts on machines without a GPU; New
// then refuses to start with an error saying what is missing (ErrNoDriver,
// ErrNoDevice). New does the slow work once per worker: cuInit, one primary
// context per GPU and a JIT compile of the PTX modules (Startup reports
// each; BENCHMARKS.md has figures).
// Each call then takes a slot on one GPU, copies its arguments in, launches,
// synchronises and copies the result out.
//
// Capacity follows the GPUs and their free memory (see Capacity). Results
// carry the metrics gpu.index, gpu.kernel_us, gpu.copy_us and gpu.copy_bytes.
//
// The CPU reference of every tool lives in package kernels (TopKCPU,
// MatMulCPU), which imports nothing GPU-related; the native pool serves
// every cuda tool through it, with the same arguments and output types, so
// a step with runtime: [cuda, native] gets one contract. This package does not
// detect GPUs for `tars env` (internal/env does, with NVML) and knows nothing
// of Temporal workers or workflows.
package cuda
