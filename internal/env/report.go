package env

import (
	"fmt"
	"io"
	"strings"
)

// Pool names, in the order pools are reported and started.
const (
	PoolNative     = "native"
	PoolWASM       = "wasm"
	PoolHyperlight = "hyperlight"
	PoolCUDA       = "cuda"
)

// Report is what Detect found.
type Report struct {
	OS       string `json:"os"`   // runtime.GOOS
	Arch     string `json:"arch"` // runtime.GOARCH
	Hostname string `json:"hostname"`
	Kernel   string `json:"kernel,omitempty"` // /proc/sys/kernel/osrelease

	Container bool `json:"container"`
	// ContainerKind is "docker", "podman", "containerd", another runtime
	// named by $container (e.g. "lxc"), or "" when unknown.
	ContainerKind string `json:"container_kind,omitempty"`
	Kubernetes    bool   `json:"kubernetes"`

	// CPUs is the CPUs this process may use: the affinity mask, capped by a
	// cgroup v2 CPU quota (cpu.max) rounded up.
	CPUs int `json:"cpus"`
	// MemoryBytes is MemTotal from /proc/meminfo.
	MemoryBytes uint64 `json:"memory_bytes"`
	// MemoryAvailable is MemAvailable from /proc/meminfo.
	MemoryAvailable uint64 `json:"memory_available"`
	// MemoryLimit is the cgroup memory limit, or 0 when there is none below
	// MemoryBytes.
	MemoryLimit uint64 `json:"memory_limit,omitempty"`

	KVM  KVMInfo  `json:"kvm"`
	GPUs GPUInfo  `json:"gpus"`
	WASM WASMInfo `json:"wasm"`

	// Pools says, for native, wasm, hyperlight and cuda in that order,
	// whether this machine can serve the pool and why (not).
	Pools []PoolStatus `json:"pools"`
}

// KVMInfo describes /dev/kvm, which the hyperlight pool needs.
type KVMInfo struct {
	Present    bool   `json:"present"` // the device node exists
	Device     string `json:"device"`
	APIVersion int    `json:"api_version,omitempty"`
	Usable     bool   `json:"usable"`           // opened, API 12, a VM could be created
	Reason     string `json:"reason,omitempty"` // why not usable, with what to do
}

// GPUInfo describes the NVIDIA GPUs NVML reports and the CUDA driver.
type GPUInfo struct {
	Driver      string `json:"driver,omitempty"`       // NVIDIA driver version, e.g. "580.95.05"
	CUDAVersion string `json:"cuda_version,omitempty"` // highest CUDA version the driver supports, e.g. "13.0"
	// CUDADriver is whether libcuda.so.1, which the cuda pool calls, loads.
	CUDADriver bool   `json:"cuda_driver"`
	Devices    []GPU  `json:"devices,omitempty"`
	Reason     string `json:"reason,omitempty"` // why there is no usable GPU
}

// GPU is one device as NVML reports it.
type GPU struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	UUID        string `json:"uuid"`
	MemoryTotal uint64 `json:"memory_total"`
	MemoryFree  uint64 `json:"memory_free"`
}

// WASMInfo describes how wazero will run modules here.
type WASMInfo struct {
	// Compiler is whether wazero's compiler (machine code) works on this
	// OS and architecture; otherwise modules run in its interpreter.
	Compiler bool   `json:"compiler"`
	Reason   string `json:"reason,omitempty"` // why the compiler is not used
}

// PoolStatus says whether this machine can serve a pool.
type PoolStatus struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"` // what was found, or what is missing
}

// AvailablePools returns the names of the pools this machine can serve, in
// the order of Report.Pools: what `tars dev` and `tars worker` start when
// given no pool list.
func (r Report) AvailablePools() []string {
	var names []string
	for _, p := range r.Pools {
		if p.Available {
			names = append(names, p.Name)
		}
	}
	return names
}

// Pool returns the status of the named pool, and false if there is none.
func (r Report) Pool(name string) (PoolStatus, bool) {
	for _, p := range r.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return PoolStatus{}, false
}

// Print writes the report for a person: the machine, then one checklist
// line per pool.
func (r Report) Print(w io.Writer) {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	b.WriteString("Machine\n")
	system := r.OS + "/" + r.Arch
	if r.Kernel != "" {
		system += ", kernel " + r.Kernel
	}
	line("system", "%s", system)
	line("host", "%s", or(r.Hostname, "unknown"))
	switch {
	case r.Container && r.ContainerKind != "":
		line("container", "%s", r.ContainerKind)
	case r.Container:
		line("container", "yes (runtime unknown)")
	default:
		line("container", "no")
	}
	line("kubernetes", "%s", yesNo(r.Kubernetes))
	line("cpus", "%d", r.CPUs)
	mem := fmt.Sprintf("%s total, %s available", gib(r.MemoryBytes), gib(r.MemoryAvailable))
	if r.MemoryLimit > 0 {
		mem += fmt.Sprintf(", cgroup limit %s", gib(r.MemoryLimit))
	}
	line("memory", "%s", mem)
	switch {
	case r.KVM.Usable:
		line("kvm", "%s, API %d, usable", r.KVM.Device, r.KVM.APIVersion)
	default:
		line("kvm", "not usable: %s", r.KVM.Reason)
	}
	if len(r.GPUs.Devices) == 0 {
		line("gpus", "none: %s", r.GPUs.Reason)
	} else {
		line("gpus", "%d (driver %s, CUDA %s, libcuda %s)", len(r.GPUs.Devices), or(r.GPUs.Driver, "?"), or(r.GPUs.CUDAVersion, "?"), map[bool]string{true: "loads", false: "missing"}[r.GPUs.CUDADriver])
		for _, g := range r.GPUs.Devices {
			line("", "%d: %s, %s free of %s, %s", g.Index, g.Name, gib(g.MemoryFree), gib(g.MemoryTotal), g.UUID)
		}
	}
	if r.WASM.Compiler {
		line("wasm", "wazero compiler")
	} else {
		line("wasm", "wazero interpreter: %s", r.WASM.Reason)
	}
	b.WriteString("\nPools\n")
	for _, p := range r.Pools {
		mark := "✗"
		if p.Available {
			mark = "✓"
		}
		fmt.Fprintf(&b, "  %s %-11s %s\n", mark, p.Name, p.Reason)
	}
	io.WriteString(w, b.String())
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
