package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
)

// Workload names, as --workloads takes them.
const (
	// Sequential: SequentialSteps native echo steps, each needing the one
	// before. One run; throughput in activities/s.
	Sequential = "sequential"
	// Foreach: one step over ForeachItems items, ForeachConcurrency at
	// once. One run; throughput in activities/s.
	Foreach = "foreach"
	// Concurrent: ConcurrentRuns one-step runs submitted at once; runs/s and
	// submit-to-result latency.
	Concurrent = "concurrent"
	// Latency: one-step runs one after the other on an otherwise idle
	// server; submit-to-result latency.
	Latency = "latency"
	// Mixed: one metascript with a foreach on every pool this machine
	// serves, joined by a native step. TARS only.
	Mixed = "mixed"
	// Loop: one step looping LoopTurns times, which must continue as new
	// on the way (history limits). TARS only, once per report.
	Loop = "loop"
	// ForeachWide: one step over WideItems items, LargeConcurrency at once:
	// the reference for ForeachLarge, measured just before it. TARS only,
	// once per report.
	ForeachWide = "foreach-1k"
	// ForeachLarge: one step over LargeItems items, LargeConcurrency at
	// once, run in shards (child workflows). TARS only, once per report;
	// its items/s are checked against ForeachWide's.
	ForeachLarge = "foreach-100k"
	// ForeachHuge: one step over HugeItems items, LargeConcurrency at once.
	// Only when named (it takes long), and its input
	// (6.9 MB) needs external storage or a raised blob size limit:
	// --dynamic-config limit.blobSize.error=16777216.
	ForeachHuge = "foreach-1m"
)

// Workloads lists every workload "all" runs, in the order a report runs them.
var Workloads = []string{Sequential, Foreach, Concurrent, Latency, Mixed, Loop, ForeachWide, ForeachLarge}

// Extra lists the workloads that run only when named.
var Extra = []string{ForeachHuge}

// workloadOrder is a workload's place in a report.
func workloadOrder(w string) int {
	if i := slices.Index(Workloads, w); i >= 0 {
		return i
	}
	return len(Workloads) + slices.Index(Extra, w)
}

// large reports whether w is one of the large foreach workloads.
func large(w string) bool { return w == ForeachWide || w == ForeachLarge || w == ForeachHuge }

// largeItems is the number of items of a large foreach workload.
func largeItems(w string) int {
	switch w {
	case ForeachLarge:
		return LargeItems
	case ForeachHuge:
		return HugeItems
	}
	return WideItems
}

// Sizes of the workloads (issue #8).
const (
	SequentialSteps    = 200
	ForeachItems       = 1000
	ForeachConcurrency = 100
	ConcurrentRuns     = 500
	LatencyRuns        = 50
	MixedItems         = 10 // items per pool in the mixed workload
	LoopTurns          = 3000
	LargeConcurrency   = 200
	WideItems          = 1000
	LargeItems         = 100_000
	HugeItems          = 1_000_000
)

// echoArgs is the `with` of every echo step whose input is constant: the
// activity input is the same activities.Call on both sides, so a
// hand-written workflow sends these bytes too.
const echoArgs = `{"value":"tars-bench"}`

// ParseWorkloads reads a comma-separated list ("" or "all": every workload).
func ParseWorkloads(list string) ([]string, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "all" {
		return slices.Clone(Workloads), nil
	}
	var out []string
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		if w == "" || slices.Contains(out, w) {
			continue
		}
		if !slices.Contains(Workloads, w) && !slices.Contains(Extra, w) {
			return nil, fmt.Errorf("unknown workload %q (workloads: %s)", w, strings.Join(append(slices.Clone(Workloads), Extra...), ", "))
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no workload in %q", list)
	}
	// Run them in the canonical order whatever order they were given in.
	slices.SortFunc(out, func(a, b string) int { return workloadOrder(a) - workloadOrder(b) })
	return out, nil
}

// Metascripts are the TARS side of the workloads, compiled by the real
// compiler from generated YAML: what a user would write, not a hand-made
// Plan.
type Metascripts struct {
	Sequential, Foreach, OneStep, Loop *plan.Plan
	// Wide is the foreach at LargeConcurrency of the large foreach workloads.
	Wide  *plan.Plan
	Mixed *plan.Plan // nil when no pool besides native is served
}

// SequentialYAML is a metascript of n echo steps, each needing the last.
func SequentialYAML(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "metascript: bench-sequential\ndescription: %d sequential native echo steps.\n", n)
	b.WriteString("policy: {allowed_tools: [native:echo]}\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: %s\n    tool: native:echo\n    with: %s\n", seqStepID(i), echoArgs)
		if i > 0 {
			fmt.Fprintf(&b, "    needs: [%s]\n", seqStepID(i-1))
		}
	}
	return b.String()
}

func seqStepID(i int) string { return fmt.Sprintf("s%03d", i) }

// ForeachYAML is a metascript of one echo step over inputs.items.
func ForeachYAML(concurrency int) string {
	return fmt.Sprintf(`metascript: bench-foreach
description: One native echo step per item, %d at once.
inputs:
  items: {type: list, required: true}
policy: {allowed_tools: [native:echo]}
steps:
  - id: each
    foreach: ${inputs.items}
    concurrency: %d
    tool: native:echo
    with: {value: "${item}"}
`, concurrency, concurrency)
}

// WideForeachYAML is the metascript of the large foreach workloads: one
// echo step over inputs.items, LargeConcurrency at once. Nothing reads its
// outputs, so its shards do not return them (workflows/shard.go).
func WideForeachYAML() string {
	return strings.Replace(ForeachYAML(LargeConcurrency), "metascript: bench-foreach\n", "metascript: bench-foreach-wide\n", 1)
}

// OneStepYAML is a metascript of a single echo step.
func OneStepYAML() string {
	return `metascript: bench-one-step
description: A single native echo step.
policy: {allowed_tools: [native:echo]}
steps:
  - id: one
    tool: native:echo
    with: ` + echoArgs + "\n"
}

// LoopYAML is a metascript of one echo step repeated turns times.
func LoopYAML(turns int) string {
	return fmt.Sprintf(`metascript: bench-loop
description: One native echo step repeated %d times; long enough to continue as new.
policy: {allowed_tools: [native:echo]}
steps:
  - id: turn
    while: {cond: "true", max: %d}
    tool: native:echo
    with: {value: "${index}"}
outputs:
  turns: ${steps.turn.turns}
`, turns, turns)
}

// mixedTools is, per runtime, a tool of this repository's examples and its
// args: the cheapest real work each pool does.
var mixedTools = map[string]struct{ tool, with string }{
	plan.RuntimeNative:     {"echo", `{value: "${item}"}`},
	plan.RuntimeWASM:       {"text-stats", `{text: "item ${item} of the mixed bench"}`},
	plan.RuntimeHyperlight: {"sha256", `{data: "item ${item}"}`},
	plan.RuntimeCUDA:       {"vector.topk", `{k: 2, query: [1.0, 0.0], vectors: [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]}`},
}

// MixedYAML is a metascript with a foreach of items per pool, all pools at
// once, joined by a native echo step.
func MixedYAML(pools []string, items int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "metascript: bench-mixed\ndescription: %d items on each of %s, then a join.\n", items, strings.Join(pools, ", "))
	fmt.Fprintf(&b, "inputs:\n  items: {type: list, default: [%s]}\n", intList(items))
	var allowed, ids []string
	for _, rt := range pools {
		allowed = append(allowed, rt+":"+mixedTools[rt].tool)
	}
	if !slices.Contains(pools, plan.RuntimeNative) {
		allowed = append(allowed, "native:echo")
	}
	fmt.Fprintf(&b, "policy: {allowed_tools: [%s], grants: {memory_mib: 16}}\nsteps:\n", strings.Join(allowed, ", "))
	for _, rt := range pools {
		t := mixedTools[rt]
		id := "on_" + rt
		ids = append(ids, id)
		fmt.Fprintf(&b, "  - id: %s\n    foreach: ${inputs.items}\n    concurrency: %d\n    runtime: %s\n    tool: %s\n    with: %s\n", id, items, rt, t.tool, t.with)
	}
	fmt.Fprintf(&b, "  - id: join\n    needs: [%s]\n    tool: native:echo\n    with: %s\n", strings.Join(ids, ", "), echoArgs)
	return b.String()
}

func intList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i)
	}
	return strings.Join(s, ", ")
}

// MixedPools keeps the pools the mixed workload can use, in the order of
// plan.Runtimes.
func MixedPools(served []string) []string {
	var out []string
	for _, rt := range plan.Runtimes {
		if _, ok := mixedTools[rt]; ok && slices.Contains(served, rt) {
			out = append(out, rt)
		}
	}
	return out
}

// Compile compiles every workload's metascript with o (o.Catalog should be
// this machine's inventory so that wasm and hyperlight digests match).
// mixedPools are the pools the mixed workload uses.
func Compile(o metascripts.Options, mixedPools []string) (*Metascripts, error) {
	var m Metascripts
	var err error
	compile := func(name, src string) *plan.Plan {
		if err != nil {
			return nil
		}
		var p *plan.Plan
		p, err = metascripts.Compile("bench/"+name+".yaml", []byte(src), o)
		if err != nil {
			err = fmt.Errorf("bench metascript %s: %w", name, err)
		}
		return p
	}
	m.Sequential = compile("sequential", SequentialYAML(SequentialSteps))
	m.Foreach = compile("foreach", ForeachYAML(ForeachConcurrency))
	m.OneStep = compile("one-step", OneStepYAML())
	m.Loop = compile("loop", LoopYAML(LoopTurns))
	m.Wide = compile("foreach-wide", WideForeachYAML())
	if len(mixedPools) > 0 {
		m.Mixed = compile("mixed", MixedYAML(mixedPools, MixedItems))
	}
	return &m, err
}

// ForeachInput is the list both sides of the foreach workload go over.
func ForeachInput(n int) []any {
	items := make([]any, n)
	for i := range items {
		items[i] = i
	}
	return items
}
