// fakecuda.c: a stand-in for libcuda.so.1 so that the cuda pool's startup
// and call plumbing can be tested on machines without a GPU. Device memory is
// host memory and kernels do nothing. The behaviour comes from environment
// variables read at each call:
//
//   FAKECUDA_INIT      CUresult cuInit returns (default 0)
//   FAKECUDA_COUNT     devices reported (default 1)
//   FAKECUDA_FREE_MIB  free memory per device in MiB (default 8192)
//   FAKECUDA_LAUNCH    CUresult cuLaunchKernel returns (default 0)
//
// Built with -DFAKECUDA_OLD it lacks cuLaunchKernel, like a driver too old.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;

static long env(const char* name, long def) {
    const char* v = getenv(name);
    return v && *v ? strtol(v, 0, 10) : def;
}

CUresult cuInit(unsigned int flags) { (void)flags; return (CUresult)env("FAKECUDA_INIT", 0); }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = (int)env("FAKECUDA_COUNT", 1); return 0; }
CUresult cuDeviceGet(int* dev, int ordinal) { *dev = ordinal; return 0; }
CUresult cuDeviceGetName(char* name, int len, int dev) {
    (void)dev;
    strncpy(name, "Fake GPU", (size_t)len);
    return 0;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int dev) { (void)dev; *bytes = (size_t)16 << 30; return 0; }
CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) { *ctx = (void*)(uintptr_t)(0x1000 + dev); return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { (void)dev; return 0; }
CUresult cuCtxSetCurrent(void* ctx) { (void)ctx; return 0; }
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    *free = (size_t)env("FAKECUDA_FREE_MIB", 8192) << 20;
    *total = (size_t)16 << 30;
    return 0;
}
CUresult cuModuleLoadDataEx(void** mod, const void* image, unsigned int n, int* opts, void** vals) {
    (void)n; (void)opts; (void)vals;
    *mod = (void*)image;
    return strstr((const char*)image, ".entry") ? 0 : 218; // CUDA_ERROR_INVALID_PTX
}
CUresult cuModuleGetFunction(void** fn, void* mod, const char* name) { (void)mod; *fn = (void*)name; return 0; }
CUresult cuModuleUnload(void* mod) { (void)mod; return 0; }
CUresult cuMemAlloc_v2(uint64_t* p, size_t size) {
    void* m = calloc(1, size);
    if (!m) return 2; // CUDA_ERROR_OUT_OF_MEMORY
    *p = (uint64_t)(uintptr_t)m;
    return 0;
}
CUresult cuMemFree_v2(uint64_t p) { free((void*)(uintptr_t)p); return 0; }
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t n) { memcpy((void*)(uintptr_t)dst, src, n); return 0; }
CUresult cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t n) { memcpy(dst, (const void*)(uintptr_t)src, n); return 0; }
#ifndef FAKECUDA_OLD
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void* stream, void** params, void** extra) {
    (void)f; (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)shmem; (void)stream; (void)extra;
    return params ? (CUresult)env("FAKECUDA_LAUNCH", 0) : 1; // CUDA_ERROR_INVALID_VALUE
}
#endif
CUresult cuGetErrorName(CUresult r, const char** s) {
    switch (r) {
    case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 700: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; return 0;
    case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    }
    *s = "CUDA_ERROR_UNKNOWN";
    return 0;
}
CUresult cuGetErrorString(CUresult r, const char** s) {
    switch (r) {
    case 100: *s = "no CUDA-capable device is detected"; return 0;
    case 700: *s = "an illegal memory access was encountered"; return 0;
    case 2: *s = "out of memory"; return 0;
    }
    *s = "unknown error";
    return 0;
}
