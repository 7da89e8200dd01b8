package native

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
)

func TestVectorTopK(t *testing.T) {
	tests := []struct {
		name        string
		args        string
		wantIndices []int
		wantScores  []float64
		wantMsg     string
	}{
		{name: "ranks by cosine", args: `{"query": [1, 0], "vectors": [[0, 1], [1, 1], [2, 0], [-1, 0]], "k": 3}`,
			wantIndices: []int{2, 1, 0}, wantScores: []float64{1, 1 / math.Sqrt2, 0}},
		{name: "magnitude does not matter", args: `{"query": [3, 4], "vectors": [[30, 40], [3, 4.1]], "k": 2}`,
			wantIndices: []int{0, 1}},
		{name: "ties keep index order", args: `{"query": [1, 0], "vectors": [[1, 0], [5, 0], [2, 0]], "k": 2}`,
			wantIndices: []int{0, 1}, wantScores: []float64{1, 1}},
		{name: "k larger than the set", args: `{"query": [1], "vectors": [[1], [-1]], "k": 10}`,
			wantIndices: []int{0, 1}, wantScores: []float64{1, -1}},
		{name: "default k is 5", args: `{"query": [1], "vectors": [[1], [1], [1], [1], [1], [1], [1]]}`,
			wantIndices: []int{0, 1, 2, 3, 4}},
		{name: "zero vector scores 0", args: `{"query": [1, 1], "vectors": [[0, 0], [-1, -1]], "k": 2}`,
			wantIndices: []int{0, 1}, wantScores: []float64{0, -1}},
		{name: "no vectors", args: `{"query": [1], "vectors": []}`, wantIndices: []int{}, wantScores: []float64{}},
		{name: "dimension mismatch", args: `{"query": [1, 2], "vectors": [[1, 2], [1]]}`, wantMsg: "vectors[1] has 1 elements, the query has 2"},
		{name: "k zero", args: `{"query": [1], "vectors": [[1]], "k": 0}`, wantMsg: `"k" must be at least 1`},
		{name: "empty query", args: `{"query": [], "vectors": [[1]]}`, wantMsg: `"query" must be a non-empty list`},
		{name: "not numbers", args: `{"query": ["a"], "vectors": [[1]]}`, wantMsg: `"query"`},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "vector.topk", tt.args, activities.Grants{})
			if tt.wantMsg != "" {
				appErr := requireAppError(t, err, activities.ErrBadArgs, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			var out kernels.TopKResult
			require.NoError(t, json.Unmarshal(res.Output, &out))
			assert.Equal(t, tt.wantIndices, out.Indices)
			if tt.wantScores != nil {
				assert.InDeltaSlice(t, tt.wantScores, out.Scores, 1e-6, "the CPU twin rounds scores to float32, as the GPU does")
			}
			assert.Len(t, out.Scores, len(out.Indices))
		})
	}
}

func TestVectorTopKLarge(t *testing.T) {
	const n, dim = 2000, 16
	vectors := make([][]float64, n)
	for i := range vectors {
		vectors[i] = make([]float64, dim)
		for j := range vectors[i] {
			vectors[i][j] = math.Sin(float64(i*dim + j))
		}
	}
	query := append([]float64(nil), vectors[1234]...)
	res, err := call(t, New(Config{}), "vector.topk", map[string]any{"query": query, "vectors": vectors, "k": 3}, activities.Grants{})
	require.NoError(t, err)
	var out kernels.TopKResult
	require.NoError(t, json.Unmarshal(res.Output, &out))
	assert.Equal(t, 1234, out.Indices[0], "a vector is nearest to itself")
	assert.InDelta(t, 1, out.Scores[0], 1e-6)
	assert.True(t, out.Scores[0] >= out.Scores[1] && out.Scores[1] >= out.Scores[2], fmt.Sprint(out.Scores))
}
