package metascripts

import (
	"slices"
	"strings"

	"github.com/tars-engine/tars/internal/diag"
)

// The DAG. A step's predecessors are its needs and, for a step that is
// another's on_error handler, the step it handles (it runs after that one
// fails). The order is Kahn's algorithm with ties broken by declaration
// order; cycles are found by walking predecessors among the steps Kahn
// could not place. Each step's transitive predecessors are a bitset, so
// checking that `steps.X` is among them is one bit test: O(n²/64) memory,
// about 125 KiB for 1,000 steps.

type bitset []uint64

func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(uint(i)%64)) != 0 }
func (b bitset) or(o bitset) {
	for i := range o {
		b[i] |= o[i]
	}
}

func (c *compiler) buildGraph() {
	// Resolve needs and on_error targets.
	for _, st := range c.steps {
		if len(st.needs) > 0 {
			st.preds = make([]int, 0, len(st.needs))
		}
		for _, nd := range st.needs {
			t := c.byID[nd.V]
			switch {
			case t == nil:
				c.f.Errorf(nd.N, "unknown step %q in needs%s", nd.V, diag.DidYouMean(nd.V, c.stepIDs))
			case t == st:
				c.f.Errorf(nd.N, "step %s needs itself", st.id)
			default:
				st.preds = append(st.preds, t.idx)
			}
		}
	}
	for _, st := range c.steps {
		if st.onErrorTo.N == nil {
			continue
		}
		h := c.byID[st.onErrorTo.V]
		switch {
		case h == nil:
			c.f.Errorf(st.onErrorTo.N, "unknown step %q in on_error%s", st.onErrorTo.V, diag.DidYouMean(st.onErrorTo.V, c.stepIDs))
		case h == st:
			c.f.Errorf(st.onErrorTo.N, "step %s cannot handle its own error", st.id)
		default:
			h.handles = append(h.handles, st.idx)
			if !slices.Contains(h.preds, st.idx) {
				h.preds = append(h.preds, st.idx)
			}
		}
	}

	n := len(c.steps)
	// Successors in one array: those of step i are succ[start[i]:start[i+1]].
	indeg := make([]int, n)
	start := make([]int, n+1)
	for _, st := range c.steps {
		for _, p := range st.preds {
			start[p+1]++
			indeg[st.idx]++
		}
	}
	for i := 0; i < n; i++ {
		start[i+1] += start[i]
	}
	succ := make([]int, start[n])
	fill := append([]int(nil), start[:n]...)
	for _, st := range c.steps {
		for _, p := range st.preds {
			succ[fill[p]] = st.idx
			fill[p]++
		}
	}
	ready := make(intHeap, 0, n)
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			ready.push(i)
		}
	}
	placed := make([]bool, n)
	c.order = make([]int, 0, n)
	for len(ready) > 0 {
		i := ready.pop()
		placed[i] = true
		c.order = append(c.order, i)
		for _, s := range succ[start[i]:start[i+1]] {
			indeg[s]--
			if indeg[s] == 0 {
				ready.push(s)
			}
		}
	}
	if len(c.order) < n {
		c.reportCycles(placed)
	}
	// Transitive predecessors, in topological order, for placed steps,
	// all in one block.
	words := (n + 63) / 64
	block := make([]uint64, words*len(c.order))
	for k, i := range c.order {
		st := c.steps[i]
		st.ancestors = bitset(block[k*words : (k+1)*words : (k+1)*words])
		for _, p := range st.preds {
			st.ancestors.set(p)
			if a := c.steps[p].ancestors; a != nil {
				st.ancestors.or(a)
			}
		}
	}
}

// reportCycles reports each cycle among the steps Kahn's algorithm could
// not place once, as "a -> b -> a" where -> reads "needs", starting from the
// cycle's first step in declaration order. Every unplaced step has an
// unplaced predecessor, so walking predecessors always ends on a cycle.
func (c *compiler) reportCycles(placed []bool) {
	n := len(c.steps)
	visited := make([]bool, n)
	onPath := make([]int, n) // position on the current walk + 1
	for start := 0; start < n; start++ {
		if placed[start] || visited[start] {
			continue
		}
		var path []int
		cur := start
		for cur >= 0 && !visited[cur] {
			visited[cur] = true
			onPath[cur] = len(path) + 1
			path = append(path, cur)
			next := -1
			for _, p := range c.steps[cur].preds {
				if !placed[p] {
					next = p
					break
				}
			}
			cur = next // -1 cannot happen: an unplaced step has an unplaced predecessor
		}
		if cur >= 0 && onPath[cur] > 0 {
			cyc := path[onPath[cur]-1:]
			// Rotate so that the earliest-declared step comes first.
			m := 0
			for i, s := range cyc {
				if s < cyc[m] {
					m = i
				}
			}
			cyc = append(append([]int(nil), cyc[m:]...), cyc[:m]...)
			names := make([]string, 0, len(cyc)+1)
			for _, s := range cyc {
				names = append(names, c.steps[s].id)
			}
			names = append(names, c.steps[cyc[0]].id)
			first, next := c.steps[cyc[0]], c.steps[cyc[(1)%len(cyc)]]
			at := first.idNode
			for _, nd := range first.needs {
				if nd.V == next.id {
					at = nd.N
				}
			}
			if at == first.idNode && next.onErrorTo.V == first.id {
				at = first.idNode // the edge is next's on_error: point at the handler
			}
			c.f.Errorf(at, "needs cycle: %s", strings.Join(names, " -> "))
		}
		for _, s := range path {
			onPath[s] = 0
		}
	}
}

// intHeap is a min-heap of step indices: the ready step declared first
// goes first.
type intHeap []int

func (h *intHeap) push(v int) {
	*h = append(*h, v)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	a := *h
	v := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r := l + 1; r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return v
}
