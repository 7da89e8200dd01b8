package workflows

import (
	"sort"

	"github.com/tars-engine/tars/plan"
)

// testCatalog is a tool catalogue for compiling metascripts in these tests.
// workflows cannot import workers (which imports it), so the real inventory
// is not at hand here; metascripts' TestCatalogIsWhatThePoolsServe keeps
// the real one honest.
type testCatalog map[string]map[string]string

func (c testCatalog) Offers(runtime, tool string) (string, bool) {
	d, ok := c[runtime][tool]
	return d, ok
}

func (c testCatalog) Tools(runtime string) []string {
	out := make([]string, 0, len(c[runtime]))
	for t := range c[runtime] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func builtinCatalog() testCatalog {
	set := func(names ...string) map[string]string {
		m := make(map[string]string, len(names))
		for _, n := range names {
			m[n] = ""
		}
		return m
	}
	return testCatalog{
		plan.RuntimeNative: set("echo", "sleep", "fail", "http.request", "json.query", "json.transform",
			"text.template", "file.read", "file.write", "shell", "model.chat", "vector.topk", "matmul",
			"sha256", "json-field", "policy-check"),
		plan.RuntimeWASM:       set("log-scan", "json-check", "text-stats", "sha256", "json-field", "policy-check"),
		plan.RuntimeHyperlight: set("json-field", "sha256", "policy-check"),
		plan.RuntimeCUDA:       set("vector.topk", "matmul"),
	}
}
