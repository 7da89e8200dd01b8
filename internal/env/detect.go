package env

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/tars-engine/tars/internal/env/hostmem"
)

// KVMDevice is the device node the hyperlight pool opens.
const KVMDevice = "/dev/kvm"

// kvmAPIVersion12 is the only KVM API version there has ever been in a
// released kernel (KVM_API_VERSION in linux/kvm.h).
const kvmAPIVersion12 = 12

// Detect gathers a Report from p. The probes that take time (KVM, NVML and
// the CUDA driver, wazero's compiler) run concurrently.
func Detect(p Probes) Report {
	r := Report{OS: p.GOOS, Arch: p.GOARCH}

	var wg sync.WaitGroup
	wg.Go(func() { r.KVM = detectKVM(p) })
	wg.Go(func() { r.GPUs = detectGPUs(p) })
	wg.Go(func() { r.WASM = detectWASM(p) })

	if p.Hostname != nil {
		r.Hostname, _ = p.Hostname()
	}
	if b, err := p.readFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	}
	r.ContainerKind, r.Container = detectContainer(p)
	r.Kubernetes = p.getenv("KUBERNETES_SERVICE_HOST") != "" || p.exists("/var/run/secrets/kubernetes.io")
	if r.Kubernetes {
		r.Container = true // a pod is always a container, whatever runs it
	}
	r.CPUs = detectCPUs(p)
	r.MemoryBytes, r.MemoryAvailable = meminfo(p)
	r.MemoryLimit = memoryLimit(p, r.MemoryBytes)

	wg.Wait()
	r.Pools = pools(r, p.built)
	return r
}

// detectContainer names the container runtime from the files runtimes leave
// behind, then $container, then PID 1's cgroup and the mounts that runtimes
// make for a container (its root and /etc/hostname, /etc/hosts,
// /etc/resolv.conf). Other mounts are ignored: a host that runs containers
// has its own runtime's paths in its mount table.
func detectContainer(p Probes) (kind string, in bool) {
	switch {
	case p.exists("/.dockerenv"):
		return "docker", true
	case p.exists("/run/.containerenv"):
		return "podman", true
	}
	if c := p.getenv("container"); c != "" { // set by podman, systemd-nspawn, lxc
		return c, true
	}
	if b, err := p.readFile("/proc/1/cgroup"); err == nil {
		if kind, in := containerMarkers(string(b)); in {
			return kind, in
		}
	}
	if b, err := p.readFile("/proc/self/mountinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			// id parent major:minor root mount-point options ... - type source super-options
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			switch f[4] {
			case "/", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf":
				if kind, in := containerMarkers(line); in {
					return kind, in
				}
			}
		}
	}
	return "", false
}

// containerMarkers recognises the paths runtimes put in cgroup names and
// container mounts.
func containerMarkers(s string) (kind string, in bool) {
	switch {
	case strings.Contains(s, "/docker/") || strings.Contains(s, "docker-") || strings.Contains(s, "/var/lib/docker/"):
		return "docker", true
	case strings.Contains(s, "libpod") || strings.Contains(s, "/containers/storage/"):
		return "podman", true
	case strings.Contains(s, "containerd"):
		return "containerd", true
	case strings.Contains(s, "kubepods") || strings.Contains(s, "/var/lib/kubelet/pods/"):
		return "", true
	}
	return "", false
}

// detectCPUs returns the usable CPUs: the affinity mask, capped by a cgroup
// v2 quota ("200000 100000" in cpu.max is 2 CPUs).
func detectCPUs(p Probes) int {
	n := 1
	if p.NumCPU != nil {
		n = p.NumCPU()
	}
	b, err := p.readFile("/sys/fs/cgroup/cpu.max")
	if err != nil {
		return n
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] == "max" {
		return n
	}
	quota, err1 := strconv.ParseFloat(f[0], 64)
	period, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return n
	}
	return max(1, min(n, int(math.Ceil(quota/period))))
}

// meminfo reads MemTotal and MemAvailable (bytes) from /proc/meminfo.
func meminfo(p Probes) (total, available uint64) {
	b, err := p.readFile("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	return hostmem.Parse(b)
}

// memoryLimit reads the cgroup v2 (memory.max) or v1 (limit_in_bytes) limit;
// 0 when there is none below the machine's memory.
func memoryLimit(p Probes, total uint64) uint64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := p.readFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil { // "max"
			return 0
		}
		if total == 0 || v < total {
			return v
		}
		return 0
	}
	return 0
}

func detectKVM(p Probes) KVMInfo {
	k := KVMInfo{Device: KVMDevice}
	absent := KVMInfo{Device: KVMDevice, Reason: "no " + KVMDevice + ": enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd; in a container, pass --device " + KVMDevice}
	if !p.exists(KVMDevice) || p.KVMAPIVersion == nil {
		return absent
	}
	k.Present = true
	v, err := p.KVMAPIVersion()
	k.APIVersion = v
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return absent
	case errors.Is(err, fs.ErrPermission):
		k.Reason = "permission denied on " + KVMDevice + ": add the user to the kvm group (sudo usermod -aG kvm $USER, then log in again)"
	case err != nil:
		k.Reason = fmt.Sprintf("%s is present but not usable: %v", KVMDevice, err)
	case v != kvmAPIVersion12:
		k.Reason = fmt.Sprintf("%s reports KVM API %d, hyperlight needs %d", KVMDevice, v, kvmAPIVersion12)
	default:
		k.Usable = true
	}
	return k
}

func detectGPUs(p Probes) GPUInfo {
	var g GPUInfo
	var nvmlErr error
	if p.NVML == nil {
		nvmlErr = ErrNoNVML
	} else {
		g, nvmlErr = p.NVML()
	}
	cudaVersion, cudaErr := 0, errors.New("libcuda.so.1 not found")
	if p.CUDADriver != nil {
		cudaVersion, cudaErr = p.CUDADriver()
	}
	g.CUDADriver = cudaErr == nil
	if g.CUDAVersion == "" && cudaErr == nil && cudaVersion > 0 {
		g.CUDAVersion = cudaVersionString(cudaVersion)
	}
	switch {
	case nvmlErr != nil:
		g.Devices = nil
		g.Reason = nvmlErr.Error()
	case len(g.Devices) == 0:
		g.Reason = "NVML reports no GPU (driver " + or(g.Driver, "?") + ")"
	case cudaErr != nil:
		g.Reason = fmt.Sprintf("NVML reports %d GPU(s) but the CUDA driver does not load: %v", len(g.Devices), cudaErr)
	}
	return g
}

// cudaVersionString turns 13000 into "13.0" and 12040 into "12.4".
func cudaVersionString(v int) string {
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

func detectWASM(p Probes) WASMInfo {
	if p.WASMCompiler == nil {
		return WASMInfo{Reason: "wazero's compiler was not probed"}
	}
	if err := p.WASMCompiler(); err != nil {
		return WASMInfo{Reason: fmt.Sprintf("wazero's compiler does not work on %s/%s: %v", p.GOOS, p.GOARCH, err)}
	}
	return WASMInfo{Compiler: true}
}

// pools decides which pools this machine can serve.
func pools(r Report, built func(string) bool) []PoolStatus {
	native := PoolStatus{Name: PoolNative, Available: true, Reason: "built-in Go tools"}
	platform := r.OS + "/" + r.Arch

	wasm := PoolStatus{Name: PoolWASM, Available: true, Reason: "wazero compiler"}
	if !r.WASM.Compiler {
		wasm.Reason = "interpreter (slower): " + r.WASM.Reason
	}

	hl := PoolStatus{Name: PoolHyperlight}
	switch {
	case !built(PoolHyperlight):
		hl.Reason = "not built for " + platform + ": micro-VMs need Linux on x86-64 with KVM"
	case r.OS != "linux":
		hl.Reason = "needs Linux with KVM; this is " + r.OS
	case r.Arch != "amd64":
		hl.Reason = "hyperlight guests are x86-64; this machine is " + r.Arch
	case !r.KVM.Usable:
		hl.Reason = r.KVM.Reason
	default:
		hl.Available = true
		hl.Reason = fmt.Sprintf("KVM API %d at %s", r.KVM.APIVersion, r.KVM.Device)
	}

	cuda := PoolStatus{Name: PoolCUDA}
	if !built(PoolCUDA) {
		cuda.Reason = "not built for " + platform + ": NVIDIA's CUDA driver is for Linux and Windows"
	} else if g := r.GPUs; g.Reason != "" || len(g.Devices) == 0 || !g.CUDADriver {
		cuda.Reason = or(g.Reason, "no usable GPU")
	} else {
		cuda.Available = true
		cuda.Reason = fmt.Sprintf("%s, driver %s, CUDA %s", gpuSummary(g.Devices), or(g.Driver, "?"), or(g.CUDAVersion, "?"))
	}
	return []PoolStatus{native, wasm, hl, cuda}
}

// gpuSummary says "2 × NVIDIA H200" or "NVIDIA H200, NVIDIA L4".
func gpuSummary(devs []GPU) string {
	same := true
	for _, d := range devs {
		same = same && d.Name == devs[0].Name
	}
	if same {
		return fmt.Sprintf("%d × %s", len(devs), devs[0].Name)
	}
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}
