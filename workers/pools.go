package workers

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda"
	"github.com/tars-engine/tars/activities/cuda/kernels"
	"github.com/tars-engine/tars/activities/hyperlight"
	"github.com/tars-engine/tars/activities/native"
	"github.com/tars-engine/tars/activities/wasm"
	"github.com/tars-engine/tars/plan"
)

// PoolConfig is what the pools need from the deployment.
type PoolConfig struct {
	// ModulesDir adds wasm modules to the built-in ones (and overrides
	// those of the same name); "" serves the built-ins alone. A directory
	// that is set but missing is an error.
	ModulesDir string
	CacheDir   string // wasm compilation cache ("" = memory)
	// GuestsDir does the same for hyperlight guests.
	GuestsDir string
	// MaxMemoryMiB caps a call's sandbox memory in the wasm and hyperlight
	// pools, granted or default (a worker's Ceiling.MemoryMiB); 0 keeps
	// each pool's own maximum.
	MaxMemoryMiB int
	// NativeTools are extra tools an embedder registers on the native pool.
	NativeTools []native.Tool
	// NativeOutputMaxBytes caps one native output (0: the pool's default,
	// sized for the history). With external storage on, large outputs are
	// stored outside the history, and the store's limit applies instead.
	NativeOutputMaxBytes int64
	Logger               *slog.Logger
}

// Build constructs the runners for the named pools. A pool whose runtime is
// unusable here fails with a message that says what is missing.
func Build(names []string, cfg PoolConfig) ([]activities.Runner, error) {
	var out []activities.Runner
	closeAll := func() {
		for _, r := range out {
			_ = r.Close()
		}
	}
	seen := map[string]bool{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		r, err := buildOne(name, cfg)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("pool %s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func buildOne(name string, cfg PoolConfig) (activities.Runner, error) {
	switch name {
	case plan.RuntimeNative:
		r := native.New(native.Config{Logger: cfg.Logger, OutputMaxBytes: cfg.NativeOutputMaxBytes})
		for _, t := range cfg.NativeTools {
			if err := r.Register(t); err != nil {
				return nil, err
			}
		}
		return r, nil
	case plan.RuntimeWASM:
		return wasm.New(wasm.Config{ModulesDir: cfg.ModulesDir, CacheDir: cfg.CacheDir, MaxMemoryMiB: cfg.MaxMemoryMiB})
	case plan.RuntimeHyperlight:
		return hyperlight.New(hyperlight.Config{GuestsDir: cfg.GuestsDir, MaxMemoryMiB: cfg.MaxMemoryMiB})
	case plan.RuntimeCUDA:
		return cuda.New(cuda.Config{})
	}
	return nil, fmt.Errorf("unknown pool %q (pools: %s)", name, strings.Join(plan.Runtimes, ", "))
}

// ToolInventory is, per runtime, the tools a machine's pools offer and the
// sha256 of each tool's artifact ("" where the tool has none, as native
// and cuda tools are compiled in). It is the one tool catalogue: the
// compiler checks tool steps against it (it implements
// metascripts.Catalog) and `tars tools` prints it.
type ToolInventory map[string]map[string]string

// Offers reports whether runtime offers tool, and the digest of its
// artifact.
func (inv ToolInventory) Offers(runtime, tool string) (string, bool) {
	d, ok := inv[runtime][tool]
	return d, ok
}

// Tools lists the tools runtime offers, sorted.
func (inv ToolInventory) Tools(runtime string) []string {
	out := make([]string, 0, len(inv[runtime]))
	for t := range inv[runtime] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Inventory lists, per runtime, the tools the pools built from cfg offer
// (what each pool's Runner.Tools lists once it runs), with their digests.
// It does not need the runtimes themselves: the wasm and hyperlight pools
// offer their built-in artifacts plus those of ModulesDir and GuestsDir (a
// directory that is set but missing is an error); native and cuda offer
// their built-in tools whether or not this machine has a GPU.
func Inventory(cfg PoolConfig) (ToolInventory, error) {
	inv := ToolInventory{}
	nat := map[string]string{}
	for _, n := range native.BuiltinNames() {
		nat[n] = ""
	}
	for _, t := range cfg.NativeTools {
		nat[t.Name] = ""
	}
	inv[plan.RuntimeNative] = nat
	m, err := wasm.Inventory(nil, cfg.ModulesDir)
	if err != nil {
		return nil, err
	}
	inv[plan.RuntimeWASM] = m
	g, err := hyperlight.Inventory(nil, cfg.GuestsDir)
	if err != nil {
		return nil, err
	}
	inv[plan.RuntimeHyperlight] = g
	cu := map[string]string{}
	for _, n := range kernels.Tools {
		cu[n] = ""
	}
	inv[plan.RuntimeCUDA] = cu
	return inv, nil
}
