package metascripts

import (
	"sort"

	"github.com/tars-engine/tars/plan"
)

// Catalog says which tools each runtime offers. The compiler checks every
// tool step against it and records the digests it returns in the Plan.
type Catalog interface {
	// Offers reports whether runtime offers tool, and the sha256 of the
	// artifact it would run ("" when the runtime has none, e.g. native).
	Offers(runtime, tool string) (digest string, ok bool)
	// Tools lists the tools runtime offers, sorted.
	Tools(runtime string) []string
}

// StaticCatalog is a fixed Catalog: runtime -> tool -> digest ("" when
// none).
type StaticCatalog map[string]map[string]string

// Offers implements Catalog.
func (c StaticCatalog) Offers(runtime, tool string) (string, bool) {
	d, ok := c[runtime][tool]
	return d, ok
}

// Tools implements Catalog.
func (c StaticCatalog) Tools(runtime string) []string {
	out := make([]string, 0, len(c[runtime]))
	for t := range c[runtime] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DefaultCatalog returns the tools TARS's own pools ship, without digests.
// The CLI replaces it with the live inventory of the pools (which carries
// the digests of wasm modules and hyperlight guests); tests and the
// examples use it so that they agree on what exists.
func DefaultCatalog() StaticCatalog {
	set := func(names ...string) map[string]string {
		m := make(map[string]string, len(names))
		for _, n := range names {
			m[n] = ""
		}
		return m
	}
	return StaticCatalog{
		plan.RuntimeNative: set("echo", "sleep", "fail", "http.request", "json.query", "json.transform",
			"text.template", "file.read", "file.write", "shell", "model.chat", "vector.topk"),
		plan.RuntimeWASM:       set("log-scan", "json-check", "text-stats"),
		plan.RuntimeHyperlight: set("json-field", "sha256", "policy-check"),
		plan.RuntimeCUDA:       set("vector.topk", "matmul"),
	}
}

// ReasonTool is the native tool that reason steps compile to.
const ReasonTool = "model.chat"
