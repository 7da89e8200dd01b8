package kernels

import (
	"container/heap"
	"fmt"
	"math"
)

// ToolTopK is the name of the cosine top-k search tool.
const ToolTopK = "vector.topk"

// DefaultK is the number of matches vector.topk returns when k is absent,
// on every runtime that offers the tool.
const DefaultK = 5

// TopKArgs are the arguments of vector.topk (a step's `with`): the rows of
// Vectors are compared with Query by cosine similarity and the K best are
// returned. Every row must have len(Query) elements. K is DefaultK when
// absent and must be at least 1.
type TopKArgs struct {
	Query   []float32   `json:"query"`
	Vectors [][]float32 `json:"vectors"`
	K       *int        `json:"k,omitempty"`
}

// Match is one hit of vector.topk: a row index into TopKArgs.Vectors and its
// cosine similarity with the query, in [-1, 1].
type Match struct {
	Index int
	Score float32
}

// TopKResult is the output of vector.topk on every runtime that offers it
// (cuda, and native as its CPU twin): the indices of at most k rows, best
// first, equal scores ordered by index, and their scores.
type TopKResult struct {
	Indices []int     `json:"indices"`
	Scores  []float64 `json:"scores"`
}

// NewTopKResult turns matches, best first, into the tool's output.
func NewTopKResult(matches []Match) TopKResult {
	r := TopKResult{Indices: make([]int, len(matches)), Scores: make([]float64, len(matches))}
	for i, m := range matches {
		r.Indices[i], r.Scores[i] = m.Index, float64(m.Score)
	}
	return r
}

// Flat validates a and returns the query, the rows packed into one row-major
// n x dim matrix, the dimension and the effective k (DefaultK when a.K is
// absent, at most n). Errors wrap ErrBadArgs.
func (a TopKArgs) Flat() (query, matrix []float32, dim, k int, err error) {
	dim = len(a.Query)
	k = DefaultK
	if a.K != nil {
		k = *a.K
	}
	switch {
	case dim == 0:
		return nil, nil, 0, 0, fmt.Errorf("%w: vector.topk: \"query\" must be a non-empty list of numbers", ErrBadArgs)
	case k < 1:
		return nil, nil, 0, 0, fmt.Errorf("%w: vector.topk: \"k\" must be at least 1, got %d", ErrBadArgs, k)
	case int64(len(a.Vectors))*int64(dim) > MaxElements:
		return nil, nil, 0, 0, fmt.Errorf("%w: vector.topk: %d vectors of %d floats exceed %d elements", ErrBadArgs, len(a.Vectors), dim, MaxElements)
	}
	matrix = make([]float32, 0, len(a.Vectors)*dim)
	for i, row := range a.Vectors {
		if len(row) != dim {
			return nil, nil, 0, 0, fmt.Errorf("%w: vector.topk: vectors[%d] has %d elements, the query has %d", ErrBadArgs, i, len(row), dim)
		}
		matrix = append(matrix, row...)
	}
	return a.Query, matrix, dim, min(k, len(a.Vectors)), nil
}

// QueryInverseNorm returns 1/|q|, or 0 for a zero query (every score is then
// 0). The GPU kernel takes it as a parameter so that the norm of the query is
// computed once, here, rather than once per row.
func QueryInverseNorm(q []float32) float32 {
	var s float64
	for _, x := range q {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return 0
	}
	return float32(1 / math.Sqrt(s))
}

// CosineScores returns the cosine similarity of query with each row of the
// row-major matrix (len(matrix)/dim rows of dim floats). A row or query with
// a zero norm scores 0. It accumulates in float64, so it is at least as exact
// as the GPU kernel, which accumulates in float32. Cost: one pass over matrix.
func CosineScores(query, matrix []float32, dim int) []float32 {
	n := len(matrix) / dim
	scores := make([]float32, n)
	qinv := float64(QueryInverseNorm(query))
	if qinv == 0 {
		return scores
	}
	for r := range n {
		row := matrix[r*dim : (r+1)*dim]
		var dot, vv float64
		for j, x := range row {
			dot += float64(x) * float64(query[j])
			vv += float64(x) * float64(x)
		}
		if vv > 0 {
			scores[r] = float32(dot / math.Sqrt(vv) * qinv)
		}
	}
	return scores
}

// SelectTopK returns the k highest scores with their indices, best first,
// equal scores by ascending index. Cost: O(n log k) with a k-element heap.
func SelectTopK(scores []float32, k int) []Match {
	k = min(k, len(scores))
	if k <= 0 {
		return []Match{}
	}
	h := make(worstFirst, 0, k)
	for i, s := range scores {
		m := Match{Index: i, Score: s}
		if len(h) < k {
			heap.Push(&h, m)
		} else if better(m, h[0]) {
			h[0] = m
			heap.Fix(&h, 0)
		}
	}
	out := make([]Match, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		m := heap.Pop(&h).(Match)
		if m.Score == 0 {
			m.Score = 0 // -0 (a zero query on the GPU) prints as "-0" in JSON
		}
		out[i] = m
	}
	return out
}

// better orders matches best first: higher score, then lower index.
func better(a, b Match) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Index < b.Index
}

// worstFirst is a heap whose root is the worst match kept so far.
type worstFirst []Match

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return better(h[j], h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(Match)) }
func (h *worstFirst) Pop() any {
	old := *h
	m := old[len(old)-1]
	*h = old[:len(old)-1]
	return m
}

// TopKCPU runs vector.topk on the CPU: the reference the GPU kernel is
// checked against and the native pool's implementation of the tool.
func TopKCPU(a TopKArgs) (TopKResult, error) {
	query, matrix, dim, k, err := a.Flat()
	if err != nil {
		return TopKResult{}, err
	}
	return NewTopKResult(SelectTopK(CosineScores(query, matrix, dim), k)), nil
}
