package metascripts

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// flowListInWith is an 8 MiB metascript whose one step passes a flow list
// of four million ones: it took 1 min 55 s and 1.37 GB to validate.
func flowListInWith() []byte {
	var b strings.Builder
	b.WriteString("metascript: big\nsteps:\n  - id: a\n    tool: echo\n    with: {xs: [")
	for b.Len() < MaxSourceBytes-100 {
		b.WriteString("1,")
	}
	b.WriteString("1]}\n")
	return []byte(b.String())
}

// manySteps is an 8 MiB metascript of about 274,000 one-line steps: it
// was refused after 5.6-7.6 s and 468 MB.
func manySteps() []byte {
	var b strings.Builder
	b.WriteString("metascript: big\nsteps:\n")
	for i := 0; b.Len() < MaxSourceBytes-100; i++ {
		fmt.Fprintf(&b, "  - {id: s%d, tool: echo}\n", i)
	}
	return []byte(b.String())
}

// id36 is a short step id, so that 10,000 steps of 120 needs fit in 8 MiB.
func id36(i int) string { return "s" + strconv.FormatInt(int64(i), 36) }

// manyNeeds is 10,000 steps that each need the 120 before them (3 s and
// 709 MB). It returns the source and the line and column of the first
// need past MaxNeeds.
func manyNeeds() (src []byte, line, col int) {
	var b strings.Builder
	b.WriteString("metascript: big\nsteps:\n")
	lines := 2
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "  - id: %s\n    tool: echo\n", id36(i))
		lines += 2
		if i < 120 {
			continue
		}
		l := "    needs: ["
		for j := i - 120; j < i; j++ {
			if j > i-120 {
				l += ", "
			}
			if j == i-120+MaxNeeds && line == 0 {
				line, col = lines+1, len(l)+1
			}
			l += id36(j)
		}
		b.WriteString(l + "]\n")
		lines++
	}
	return []byte(b.String()), line, col
}

// manyNodes passes every list cap but holds more than MaxNodes nodes: a
// with map of 300,000 keys.
func manyNodes() []byte {
	var b strings.Builder
	b.WriteString("metascript: big\nsteps:\n  - id: a\n    tool: echo\n    with:\n")
	for i := 0; i < 300000; i++ {
		fmt.Fprintf(&b, "      k%d: 1\n", i)
	}
	return []byte(b.String())
}

// TestLimitsEnforcedWhileReading: each input of issue 17 item 7 is refused
// with the position where its limit was passed, allocating (beyond its
// source) under a megabyte: the cost is bounded by the limit, not by the
// 8 MiB file.
func TestLimitsEnforcedWhileReading(t *testing.T) {
	needsSrc, needsLine, needsCol := manyNeeds()
	// In nodes.yaml eleven nodes come before the with mapping (the root
	// mapping, its keys and values, the steps list, the step mapping, its
	// keys and values), then the mapping and two a line: node MaxNodes+1
	// is the key on line 6 + (MaxNodes+1-13)/2.
	cases := []struct {
		name string
		src  []byte
		want string
	}{
		{"flow.yaml", flowListInWith(), fmt.Sprintf("flow.yaml:5:%d: a list may hold at most 10000 items; pass larger data as an input", len("    with: {xs: [")+1+2*MaxListItems)},
		{"steps.yaml", manySteps(), "steps.yaml:10003:5: a metascript may have at most 10000 steps; split it with call"},
		{"needs.yaml", needsSrc, fmt.Sprintf("needs.yaml:%d:%d: a step may need at most 100 steps", needsLine, needsCol)},
		{"nodes.yaml", manyNodes(), fmt.Sprintf("nodes.yaml:%d:7: a metascript", 6+(MaxNodes+1-13)/2) + " may hold at most 524288 YAML nodes (keys, values and list items); this one has more by here"},
	}
	o := Options{Catalog: pools()}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.LessOrEqual(t, len(tc.src), MaxSourceBytes, "the input must be within the size limit, so that another limit refuses it")
			var err error
			bytes := allocated(func() { _, err = Compile(tc.name, tc.src, o) })
			require.Error(t, err)
			ds, ok := err.(Diagnostics)
			require.True(t, ok, "want Diagnostics, got %T", err)
			require.Len(t, ds, 1, "one fault: reading stopped at the limit")
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, bytes, uint64(1<<20), "refusing %s allocated %d bytes", tc.name, bytes)
		})
	}
}

// TestLimitsAcceptUpToTheCap: a list of MaxListItems items and a step
// with MaxNeeds needs compile.
func TestLimitsAcceptUpToTheCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("metascript: cap\nsteps:\n")
	for i := 0; i < MaxNeeds; i++ {
		fmt.Fprintf(&b, "  - {id: %s, tool: echo}\n", id36(i))
	}
	b.WriteString("  - id: last\n    tool: echo\n    needs:\n")
	for i := 0; i < MaxNeeds; i++ {
		fmt.Fprintf(&b, "      - %s\n", id36(i))
	}
	b.WriteString("    with: {xs: [" + strings.Repeat("1, ", MaxListItems-1) + "1]}\n")
	p, err := Compile("cap.yaml", []byte(b.String()), Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Len(t, p.Step("last").Needs, MaxNeeds)

	// One more need, in block form this time, is refused at it.
	src := strings.Replace(b.String(), "    with:", "      - "+id36(0)+"x\n    with:", 1)
	_, err = Compile("cap.yaml", []byte(src), Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("cap.yaml:%d:9: a step may need at most 100 steps", 2+MaxNeeds+3+MaxNeeds+1))
}

// TestNeedsLimitBehindTheScanner: an explicit "? needs" key, a form the
// scanner does not follow, still meets the limit when the step is read.
func TestNeedsLimitBehindTheScanner(t *testing.T) {
	var b strings.Builder
	b.WriteString("metascript: x\nsteps:\n")
	ids := make([]string, MaxNeeds+1)
	for i := range ids {
		ids[i] = id36(i)
		fmt.Fprintf(&b, "  - {id: %s, tool: echo}\n", ids[i])
	}
	b.WriteString("  - id: last\n    tool: echo\n    ? needs\n    : [" + strings.Join(ids, ", ") + "]\n")
	_, err := Compile("x.yaml", []byte(b.String()), Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a step may need at most 100 steps")
}

// TestBoundsCountsTrackYAML: on every metascript of the repository the
// scanner refuses nothing and counts within a factor of two of the nodes
// yaml.v3 builds, so MaxNodes means what it says.
func TestBoundsCountsTrackYAML(t *testing.T) {
	var files []string
	for _, g := range []string{"examples/*.yaml", "testdata/*/*.yaml"} {
		m, err := filepath.Glob(g)
		require.NoError(t, err)
		files = append(files, m...)
	}
	files = append(files, "") // the generated benchmark metascript
	require.Greater(t, len(files), 50)
	for _, f := range files {
		src := generate(1000)
		if f != "" {
			var err error
			src, err = os.ReadFile(f)
			require.NoError(t, err)
		}
		var doc yaml.Node
		if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
			continue // invalid YAML: yaml.v3's fault, reported after the scan
		}
		s := &boundsScanner{path: f, src: src, line: 1}
		for s.i < len(s.src) && s.fault == nil {
			s.blockLine()
		}
		require.Nil(t, s.fault, "%s", f)
		real := countNodes(doc.Content[0])
		if real < 20 {
			continue // too small for a ratio to mean anything
		}
		assert.True(t, s.nodes >= real/2 && s.nodes <= 2*real, "%s: scanner counted %d nodes, yaml.v3 built %d", f, s.nodes, real)
	}
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// BenchmarkRefuseLargeFlowList measures refusing the 8 MiB flow list: the
// scan stops at the 10,001st item.
func BenchmarkRefuseLargeFlowList(b *testing.B) {
	src := flowListInWith()
	o := Options{Catalog: pools()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("flow.yaml", src, o); err == nil {
			b.Fatal("compiled")
		}
	}
}

// TestBoundsNeverPanics feeds the scanner truncated and mutated copies of
// the examples: it must read any bytes (yaml.v3 judges them next).
func TestBoundsNeverPanics(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	special := []byte("-:#'\"[]{},|>&*!? \n\t\\")
	r := rand.New(rand.NewSource(1))
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for i := 0; i < 300; i++ {
			m := append([]byte(nil), src[:r.Intn(len(src)+1)]...)
			for k := r.Intn(8); k > 0 && len(m) > 0; k-- {
				m[r.Intn(len(m))] = special[r.Intn(len(special))]
			}
			scanBounds(f, m)
		}
	}
}

// TestBoundsNestingAndColumns: nesting is capped (the scanner's memory
// with it), and columns count characters, as yaml.v3's positions do.
func TestBoundsNestingAndColumns(t *testing.T) {
	head := "metascript: x\nsteps:\n  - id: a\n    tool: echo\n    with: {x: "
	last := len("    with: {x: ")
	// The root mapping, the steps list, the step and the with mapping
	// are four levels: the 253rd "[" would be the 257th.
	_, err := Compile("deep.yaml", []byte(head+strings.Repeat("[", 300)+"\n"), Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("deep.yaml:5:%d: lists and mappings may nest at most 256 deep", last+253))

	src := head + "[" + strings.Repeat("é,", MaxListItems) + "é]}\n"
	_, err = Compile("wide.yaml", []byte(src), Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("wide.yaml:5:%d: a list may hold at most 10000 items", last+2+2*MaxListItems))
}
