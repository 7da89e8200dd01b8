package metascripts

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// generate writes a metascript of n steps: chains of needs (each step
// needs the one before and one seven back), expressions in with and when,
// a foreach every tenth step, a set every seventh, a reason every
// thirteenth, and closures.
func generate(n int) []byte {
	var b strings.Builder
	b.WriteString(`metascript: generated
description: A generated metascript for BenchmarkCompile.
inputs:
  n: {type: int, default: 3}
  items: {type: list, default: [a, b, c]}
  name: {type: string, default: bench}
agents: [researcher, summarizer]
closures:
  twice: {params: {x: int}, returns: int, body: x * 2}
  tag: {params: {s: string, i: int}, returns: string, body: s + "-" + string(i)}
policy: {timeout: 1h}
steps:
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n", i)
		var needs []string
		if i > 0 {
			needs = append(needs, fmt.Sprintf("s%d", i-1))
		}
		if i >= 7 {
			needs = append(needs, fmt.Sprintf("s%d", i-7))
		}
		if len(needs) > 0 {
			fmt.Fprintf(&b, "    needs: [%s]\n", strings.Join(needs, ", "))
		}
		prev := "inputs.name"
		if i > 0 {
			prev = fmt.Sprintf("steps.s%d.output", i-1)
		}
		switch {
		case i%13 == 12:
			fmt.Fprintf(&b, "    agent: researcher\n    reason: {prompt: \"Step %d of ${inputs.name}: ${%s}\"}\n", i, prev)
		case i%7 == 6:
			fmt.Fprintf(&b, "    set: {value: \"${twice(inputs.n) + %d}\", from: \"${%s}\"}\n", i, prev)
		case i%10 == 9:
			fmt.Fprintf(&b, "    foreach: ${inputs.items}\n    concurrency: 4\n    tool: echo\n    with: {item: \"${tag(item, index)}\", prev: \"${%s}\"}\n", prev)
		default:
			fmt.Fprintf(&b, "    tool: echo\n    with: {i: %d, prev: \"${%s}\", n: \"${inputs.n + %d}\"}\n", i, prev, i)
		}
		if i%5 == 4 && i > 0 {
			fmt.Fprintf(&b, "    when: steps.s%d.status == \"ok\" && inputs.n > %d\n", i-1, i%3)
		}
	}
	b.WriteString("outputs:\n  last: ${steps.s" + fmt.Sprint(n-1) + ".output}\n")
	return []byte(b.String())
}

func TestGeneratedCompiles(t *testing.T) {
	p, err := Compile("generated.yaml", generate(1000), Options{Catalog: pools()})
	require.NoError(t, err)
	require.Len(t, p.Steps, 1000)
	for i, s := range p.Steps {
		require.Equal(t, fmt.Sprintf("s%d", i), s.ID)
	}
}

// BenchmarkCompile compiles a generated 1,000-step metascript. Target: at
// most 20 ms per compile on a 2-core machine. cpu-ns/op is the process's
// CPU time (user and system, every thread) per compile: on a shared
// machine it moves far less with the load than ns/op does.
func BenchmarkCompile(b *testing.B) {
	src := generate(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := Compile("generated.yaml", src, Options{Catalog: pools()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
