package native

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/tars-engine/tars/activities"
)

type topKArgs struct {
	Query   []float64   `json:"query"`
	Vectors [][]float64 `json:"vectors"`
	K       *int        `json:"k"`
}

type topKOutput struct {
	Indices []int     `json:"indices"`
	Scores  []float64 `json:"scores"`
}

const defaultTopK = 5

// runVectorTopK returns the indices of the k vectors most cosine-similar to
// the query, best first, with their scores. Ties keep the lower index
// first. It is the CPU twin of the cuda pool's vector.topk, used when a
// [cuda, native] step falls back; scores may differ from the GPU's in the
// last float32 digits.
func runVectorTopK(_ context.Context, call activities.Call) (activities.Result, error) {
	const tool = "vector.topk"
	var args topKArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	k := defaultTopK
	if args.K != nil {
		k = *args.K
	}
	if k < 1 {
		return activities.Result{}, badArgs(tool, `"k" must be at least 1, got %d`, k)
	}
	if len(args.Query) == 0 {
		return activities.Result{}, badArgs(tool, `"query" must be a non-empty list of numbers`)
	}
	for i, v := range args.Vectors {
		if len(v) != len(args.Query) {
			return activities.Result{}, badArgs(tool, "vectors[%d] has %d dimensions; the query has %d", i, len(v), len(args.Query))
		}
	}
	qNorm := norm(args.Query)
	scores := make([]float64, len(args.Vectors))
	for i, v := range args.Vectors {
		scores[i] = cosine(args.Query, qNorm, v)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	idx = idx[:min(k, len(idx))]
	out := topKOutput{Indices: idx, Scores: make([]float64, len(idx))}
	for i, j := range idx {
		out.Scores[i] = scores[j]
	}
	return output(tool, out)
}

// cosine is the cosine similarity of q (whose norm is qNorm) and v; it is 0
// when either is the zero vector, and when the products overflow, since
// JSON has no NaN.
func cosine(q []float64, qNorm float64, v []float64) float64 {
	var dot float64
	for i := range q {
		dot += q[i] * v[i]
	}
	s := dot / (qNorm * norm(v))
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0
	}
	return s
}

func norm(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x * x
	}
	return math.Sqrt(sum)
}
