package env

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeFS serves ReadFile and Stat from a map.
type fakeFS map[string]string

func (f fakeFS) readFile(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (f fakeFS) stat(name string) (os.FileInfo, error) {
	if _, ok := f[name]; ok {
		return nil, nil // Detect only looks at the error
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

const meminfo16G = "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8192000 kB\n"

// baseline is a bare-metal Linux box with KVM, no GPU and a working
// wazero compiler; each case changes what it tests.
func baseline(files fakeFS, env map[string]string) Probes {
	if files == nil {
		files = fakeFS{}
	}
	files["/proc/meminfo"] = meminfo16G
	files["/proc/sys/kernel/osrelease"] = "6.8.0-45-generic\n"
	files["/dev/kvm"] = ""
	return Probes{
		GOOS: "linux", GOARCH: "amd64",
		ReadFile:      files.readFile,
		Stat:          files.stat,
		Getenv:        func(k string) string { return env[k] },
		Hostname:      func() (string, error) { return "box", nil },
		NumCPU:        func() int { return 8 },
		KVMAPIVersion: func() (int, error) { return 12, nil },
		NVML:          func() (GPUInfo, error) { return GPUInfo{}, ErrNoNVML },
		CUDADriver:    func() (int, error) { return 0, errors.New("libcuda.so.1 not found") },
		WASMCompiler:  func() error { return nil },
	}
}

func h200(i int) GPU {
	return GPU{Index: i, Name: "NVIDIA H200", UUID: fmt.Sprintf("GPU-%d", i), MemoryTotal: 150_000_000_000, MemoryFree: 149_000_000_000}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		probes func() Probes
		check  func(t *testing.T, r Report)
	}{
		{"bare metal", func() Probes { return baseline(nil, nil) }, func(t *testing.T, r Report) {
			assert.False(t, r.Container)
			assert.Empty(t, r.ContainerKind)
			assert.False(t, r.Kubernetes)
			assert.Equal(t, "box", r.Hostname)
			assert.Equal(t, "6.8.0-45-generic", r.Kernel)
			assert.Equal(t, 8, r.CPUs)
			assert.Equal(t, uint64(16384000<<10), r.MemoryBytes)
			assert.Equal(t, uint64(8192000<<10), r.MemoryAvailable)
			assert.Zero(t, r.MemoryLimit)
			assert.Equal(t, []string{"native", "wasm", "hyperlight"}, r.AvailablePools())
		}},
		{"docker", func() Probes { return baseline(fakeFS{"/.dockerenv": ""}, nil) }, func(t *testing.T, r Report) {
			assert.True(t, r.Container)
			assert.Equal(t, "docker", r.ContainerKind)
			assert.False(t, r.Kubernetes)
		}},
		{"podman", func() Probes { return baseline(fakeFS{"/run/.containerenv": ""}, nil) }, func(t *testing.T, r Report) {
			assert.Equal(t, "podman", r.ContainerKind)
		}},
		{"docker from cgroup v1", func() Probes {
			return baseline(fakeFS{"/proc/1/cgroup": "12:memory:/docker/3f1c9a\n0::/docker/3f1c9a\n"}, nil)
		}, func(t *testing.T, r Report) {
			assert.Equal(t, "docker", r.ContainerKind)
		}},
		{"containerd from the root mount", func() Probes {
			return baseline(fakeFS{
				"/proc/1/cgroup":       "0::/\n",
				"/proc/self/mountinfo": "1 0 0:50 / / rw - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs\n",
			}, nil)
		}, func(t *testing.T, r Report) {
			assert.True(t, r.Container)
			assert.Equal(t, "containerd", r.ContainerKind)
		}},
		{"a docker host is not a container", func() Probes {
			return baseline(fakeFS{
				"/proc/1/cgroup":       "0::/init.scope\n",
				"/proc/self/mountinfo": "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n90 1 0:60 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw\n",
			}, nil)
		}, func(t *testing.T, r Report) {
			assert.False(t, r.Container)
		}},
		{"kubernetes", func() Probes {
			return baseline(fakeFS{"/var/run/secrets/kubernetes.io": ""}, map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
		}, func(t *testing.T, r Report) {
			assert.True(t, r.Kubernetes)
			assert.True(t, r.Container, "a pod is a container")
		}},
		{"kubernetes from the service account alone", func() Probes {
			return baseline(fakeFS{"/var/run/secrets/kubernetes.io": ""}, nil)
		}, func(t *testing.T, r Report) {
			assert.True(t, r.Kubernetes)
		}},
		{"cgroup limits", func() Probes {
			return baseline(fakeFS{"/sys/fs/cgroup/cpu.max": "150000 100000\n", "/sys/fs/cgroup/memory.max": "4294967296\n"}, nil)
		}, func(t *testing.T, r Report) {
			assert.Equal(t, 2, r.CPUs) // 1.5 CPUs rounds up
			assert.Equal(t, uint64(4<<30), r.MemoryLimit)
		}},
		{"cgroup without limits", func() Probes {
			return baseline(fakeFS{"/sys/fs/cgroup/cpu.max": "max 100000\n", "/sys/fs/cgroup/memory.max": "max\n"}, nil)
		}, func(t *testing.T, r Report) {
			assert.Equal(t, 8, r.CPUs)
			assert.Zero(t, r.MemoryLimit)
		}},
		{"KVM absent", func() Probes {
			p := baseline(nil, nil)
			p.Stat = fakeFS{}.stat
			return p
		}, func(t *testing.T, r Report) {
			assert.False(t, r.KVM.Present)
			assert.False(t, r.KVM.Usable)
			hl := pool(t, r, PoolHyperlight)
			assert.False(t, hl.Available)
			assert.Contains(t, hl.Reason, "no /dev/kvm")
			assert.Contains(t, hl.Reason, "--device /dev/kvm")
		}},
		{"KVM node but ENOENT on open", func() Probes {
			p := baseline(nil, nil)
			p.KVMAPIVersion = func() (int, error) { return 0, &fs.PathError{Op: "open", Path: "/dev/kvm", Err: fs.ErrNotExist} }
			return p
		}, func(t *testing.T, r Report) {
			assert.False(t, r.KVM.Present)
			assert.Contains(t, r.KVM.Reason, "no /dev/kvm")
		}},
		{"KVM permission", func() Probes {
			p := baseline(nil, nil)
			p.KVMAPIVersion = func() (int, error) { return 0, &fs.PathError{Op: "open", Path: "/dev/kvm", Err: fs.ErrPermission} }
			return p
		}, func(t *testing.T, r Report) {
			assert.True(t, r.KVM.Present)
			assert.False(t, r.KVM.Usable)
			hl := pool(t, r, PoolHyperlight)
			assert.False(t, hl.Available)
			assert.Contains(t, hl.Reason, "add the user to the kvm group")
		}},
		{"KVM wrong version", func() Probes {
			p := baseline(nil, nil)
			p.KVMAPIVersion = func() (int, error) { return 11, nil }
			return p
		}, func(t *testing.T, r Report) {
			assert.True(t, r.KVM.Present)
			assert.Equal(t, 11, r.KVM.APIVersion)
			assert.Equal(t, "/dev/kvm reports KVM API 11, hyperlight needs 12", pool(t, r, PoolHyperlight).Reason)
		}},
		{"KVM cannot create a VM", func() Probes {
			p := baseline(nil, nil)
			p.KVMAPIVersion = func() (int, error) { return 12, errors.New("KVM_CREATE_VM: no such device") }
			return p
		}, func(t *testing.T, r Report) {
			assert.False(t, r.KVM.Usable)
			assert.Contains(t, pool(t, r, PoolHyperlight).Reason, "present but not usable: KVM_CREATE_VM")
		}},
		{"hyperlight needs amd64", func() Probes {
			p := baseline(nil, nil)
			p.GOARCH = "arm64"
			return p
		}, func(t *testing.T, r Report) {
			assert.True(t, r.KVM.Usable)
			assert.Equal(t, "hyperlight guests are x86-64; this machine is arm64", pool(t, r, PoolHyperlight).Reason)
		}},
		{"two GPUs", func() Probes {
			p := baseline(nil, nil)
			p.NVML = func() (GPUInfo, error) {
				return GPUInfo{Driver: "580.95.05", CUDAVersion: "13.0", Devices: []GPU{h200(0), h200(1)}}, nil
			}
			p.CUDADriver = func() (int, error) { return 13000, nil }
			return p
		}, func(t *testing.T, r Report) {
			assert.Len(t, r.GPUs.Devices, 2)
			assert.True(t, r.GPUs.CUDADriver)
			assert.Empty(t, r.GPUs.Reason)
			c := pool(t, r, PoolCUDA)
			assert.True(t, c.Available)
			assert.Equal(t, "2 × NVIDIA H200, driver 580.95.05, CUDA 13.0", c.Reason)
			assert.Equal(t, []string{"native", "wasm", "hyperlight", "cuda"}, r.AvailablePools())
		}},
		{"GPUs but no libcuda", func() Probes {
			p := baseline(nil, nil)
			p.NVML = func() (GPUInfo, error) { return GPUInfo{Driver: "580.95.05", Devices: []GPU{h200(0)}}, nil }
			return p
		}, func(t *testing.T, r Report) {
			c := pool(t, r, PoolCUDA)
			assert.False(t, c.Available)
			assert.Equal(t, "NVML reports 1 GPU(s) but the CUDA driver does not load: libcuda.so.1 not found", c.Reason)
		}},
		{"NVML with zero devices", func() Probes {
			p := baseline(nil, nil)
			p.NVML = func() (GPUInfo, error) { return GPUInfo{Driver: "580.95.05", CUDAVersion: "13.0"}, nil }
			p.CUDADriver = func() (int, error) { return 13000, nil }
			return p
		}, func(t *testing.T, r Report) {
			c := pool(t, r, PoolCUDA)
			assert.False(t, c.Available)
			assert.Equal(t, "NVML reports no GPU (driver 580.95.05)", c.Reason)
		}},
		{"no NVIDIA driver", func() Probes { return baseline(nil, nil) }, func(t *testing.T, r Report) {
			c := pool(t, r, PoolCUDA)
			assert.False(t, c.Available)
			assert.Equal(t, "no NVIDIA driver: libnvidia-ml.so.1 not found", c.Reason)
		}},
		{"CUDA version from libcuda when NVML gives none", func() Probes {
			p := baseline(nil, nil)
			p.NVML = func() (GPUInfo, error) { return GPUInfo{Devices: []GPU{h200(0)}}, nil }
			p.CUDADriver = func() (int, error) { return 12040, nil }
			return p
		}, func(t *testing.T, r Report) {
			assert.Equal(t, "12.4", r.GPUs.CUDAVersion)
			assert.Equal(t, "1 × NVIDIA H200, driver ?, CUDA 12.4", pool(t, r, PoolCUDA).Reason)
		}},
		{"WASM compiler unsupported", func() Probes {
			p := baseline(nil, nil)
			p.GOARCH = "riscv64"
			p.WASMCompiler = func() error { return errors.New("wazero compiler: unsupported platform") }
			return p
		}, func(t *testing.T, r Report) {
			assert.False(t, r.WASM.Compiler)
			w := pool(t, r, PoolWASM)
			assert.True(t, w.Available, "wazero falls back to its interpreter")
			assert.True(t, strings.HasPrefix(w.Reason, "interpreter (slower): "), w.Reason)
			assert.Contains(t, w.Reason, "linux/riscv64")
			assert.Equal(t, []string{"native", "wasm"}, r.AvailablePools())
		}},
		{"nothing probed", func() Probes { return Probes{GOOS: "linux", GOARCH: "amd64"} }, func(t *testing.T, r Report) {
			assert.Equal(t, 1, r.CPUs)
			assert.Equal(t, []string{"native", "wasm"}, r.AvailablePools())
			require.Len(t, r.Pools, 4)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Detect(tt.probes())
			require.Len(t, r.Pools, 4)
			for i, name := range []string{"native", "wasm", "hyperlight", "cuda"} {
				assert.Equal(t, name, r.Pools[i].Name)
				assert.NotEmpty(t, r.Pools[i].Reason, "pool %s has no reason", name)
			}
			tt.check(t, r)
		})
	}
}

func pool(t *testing.T, r Report, name string) PoolStatus {
	t.Helper()
	p, ok := r.Pool(name)
	require.True(t, ok, "no pool %s", name)
	return p
}

func TestPrint(t *testing.T) {
	p := baseline(fakeFS{"/.dockerenv": ""}, nil)
	p.NVML = func() (GPUInfo, error) {
		return GPUInfo{Driver: "580.95.05", CUDAVersion: "13.0", Devices: []GPU{h200(0), h200(1)}}, nil
	}
	p.CUDADriver = func() (int, error) { return 13000, nil }
	var b bytes.Buffer
	Detect(p).Print(&b)
	assert.Equal(t, `Machine
  system      linux/amd64, kernel 6.8.0-45-generic
  host        box
  container   docker
  kubernetes  no
  cpus        8
  memory      15.6 GiB total, 7.8 GiB available
  kvm         /dev/kvm, API 12, usable
  gpus        2 (driver 580.95.05, CUDA 13.0, libcuda loads)
              0: NVIDIA H200, 138.8 GiB free of 139.7 GiB, GPU-0
              1: NVIDIA H200, 138.8 GiB free of 139.7 GiB, GPU-1
  wasm        wazero compiler

Pools
  ✓ native      built-in Go tools
  ✓ wasm        wazero compiler
  ✓ hyperlight  KVM API 12 at /dev/kvm
  ✓ cuda        2 × NVIDIA H200, driver 580.95.05, CUDA 13.0
`, b.String())
}

func TestPrintUnavailable(t *testing.T) {
	p := baseline(nil, nil)
	p.KVMAPIVersion = func() (int, error) { return 0, &fs.PathError{Op: "open", Path: "/dev/kvm", Err: fs.ErrPermission} }
	p.WASMCompiler = func() error { return errors.New("unsupported") }
	var b bytes.Buffer
	Detect(p).Print(&b)
	out := b.String()
	assert.Contains(t, out, "  kvm         not usable: permission denied on /dev/kvm: add the user to the kvm group")
	assert.Contains(t, out, "  gpus        none: no NVIDIA driver: libnvidia-ml.so.1 not found\n")
	assert.Contains(t, out, "  wasm        wazero interpreter: wazero's compiler does not work on linux/amd64: unsupported\n")
	assert.Contains(t, out, "  ✓ wasm        interpreter (slower): ")
	assert.Contains(t, out, "  ✗ hyperlight  permission denied on /dev/kvm: add the user to the kvm group")
	assert.Contains(t, out, "  ✗ cuda        no NVIDIA driver: libnvidia-ml.so.1 not found\n")
}

// TestDetectReal runs the real probes on this machine.
func TestDetectReal(t *testing.T) {
	start := time.Now()
	r := Detect(RealProbes())
	took := time.Since(start)
	var b bytes.Buffer
	r.Print(&b)
	t.Logf("Detect took %v\n%s", took, b.String())

	assert.Positive(t, r.CPUs)
	assert.NotEmpty(t, r.Pools)
	assert.Equal(t, "native", r.AvailablePools()[0])
	assert.Contains(t, r.AvailablePools(), "wasm")

	if len(r.GPUs.Devices) == 0 {
		// No GPU: detection must not hang on a driver, and must say why
		// cuda is out. Its speed is BenchmarkDetect's to show; this bound
		// only catches a hang, and holds on a loaded 2-core machine.
		assert.Less(t, took, 5*time.Second, "Detect without a GPU")
		c := pool(t, r, PoolCUDA)
		assert.False(t, c.Available)
		assert.Regexp(t, `NVIDIA driver|NVML|libnvidia-ml|libcuda|cgo`, c.Reason)
	} else {
		t.Logf("GPUs found: %+v", r.GPUs)
		assert.Equal(t, r.GPUs.CUDADriver, pool(t, r, PoolCUDA).Available)
	}
}

func TestKVMReal(t *testing.T) {
	if _, err := os.Stat(KVMDevice); err != nil {
		t.Skipf("no %s in this environment: %v", KVMDevice, err)
	}
	v, err := kvmAPIVersion()
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("%s exists but this user cannot open it: %v", KVMDevice, err)
	}
	require.NoError(t, err)
	assert.Equal(t, 12, v)
	r := Detect(RealProbes())
	assert.True(t, r.KVM.Present)
	assert.True(t, r.KVM.Usable, r.KVM.Reason)
	assert.Equal(t, 12, r.KVM.APIVersion)
	if r.Arch == "amd64" {
		assert.Contains(t, r.AvailablePools(), PoolHyperlight)
	}
}

func TestWASMCompilerReal(t *testing.T) {
	err := wasmCompiler()
	if (RealProbes().GOARCH == "amd64" || RealProbes().GOARCH == "arm64") && RealProbes().GOOS == "linux" {
		require.NoError(t, err)
	} else {
		t.Logf("wazero compiler here: %v", err)
	}
}

func BenchmarkDetect(b *testing.B) {
	p := RealProbes()
	for b.Loop() {
		Detect(p)
	}
}
