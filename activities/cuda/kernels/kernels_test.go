package kernels

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectTopK(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		k      int
		want   []Match
	}{
		{"empty", nil, 3, []Match{}},
		{"k zero", []float32{1, 2}, 0, []Match{}},
		{"k above n", []float32{0.1, 0.9}, 5, []Match{{1, 0.9}, {0, 0.1}}},
		{"best first", []float32{0.2, 0.8, -0.5, 0.9, 0.1}, 3, []Match{{3, 0.9}, {1, 0.8}, {0, 0.2}}},
		{"ties by index", []float32{0.5, 0.7, 0.5, 0.7, 0.5}, 4, []Match{{1, 0.7}, {3, 0.7}, {0, 0.5}, {2, 0.5}}},
		{"negative only", []float32{-0.3, -0.1, -0.2}, 2, []Match{{1, -0.1}, {2, -0.2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SelectTopK(tt.scores, tt.k))
		})
	}
}

func TestSelectTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scores := make([]float32, 5000)
	for i := range scores {
		scores[i] = float32(r.IntN(200)) / 100 // many ties
	}
	got := SelectTopK(scores, 50)
	require.Len(t, got, 50)
	for i := 1; i < len(got); i++ {
		assert.True(t, better(got[i-1], got[i]), "position %d: %v before %v", i, got[i-1], got[i])
	}
	// nothing left out is better than the worst kept
	kept := map[int]bool{}
	for _, m := range got {
		kept[m.Index] = true
	}
	for i, s := range scores {
		if !kept[i] {
			assert.False(t, better(Match{i, s}, got[len(got)-1]), "index %d (%v) was left out", i, s)
		}
	}
}

func TestCosineScores(t *testing.T) {
	tests := []struct {
		name   string
		query  []float32
		matrix []float32
		dim    int
		want   []float32
	}{
		{"identical", []float32{1, 2, 3}, []float32{1, 2, 3}, 3, []float32{1}},
		{"scaled", []float32{1, 2, 3}, []float32{10, 20, 30}, 3, []float32{1}},
		{"opposite", []float32{1, 0}, []float32{-2, 0}, 2, []float32{-1}},
		{"orthogonal", []float32{1, 0}, []float32{0, 5}, 2, []float32{0}},
		{"zero row", []float32{1, 1}, []float32{0, 0, 1, 1}, 2, []float32{0, 1}},
		{"zero query", []float32{0, 0}, []float32{1, 2, 3, 4}, 2, []float32{0, 0}},
		{"45 degrees", []float32{1, 0}, []float32{1, 1}, 2, []float32{float32(math.Sqrt2 / 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CosineScores(tt.query, tt.matrix, tt.dim)
			require.Len(t, got, len(tt.want))
			for i := range got {
				assert.InDelta(t, tt.want[i], got[i], 1e-6, "row %d", i)
			}
		})
	}
}

func TestTopKCPU(t *testing.T) {
	vectors := [][]float32{
		{1, 0, 0},  // 0: identical to the query
		{0, 1, 0},  // 1: orthogonal
		{1, 1, 0},  // 2: 45 degrees
		{-1, 0, 0}, // 3: opposite
		{2, 0, 0},  // 4: same direction, longer
	}
	tests := []struct {
		name    string
		args    TopKArgs
		want    []int
		wantErr string
	}{
		{"k 2", TopKArgs{Query: []float32{1, 0, 0}, Vectors: vectors, K: ptr(2)}, []int{0, 4}, ""},
		{"k 4", TopKArgs{Query: []float32{1, 0, 0}, Vectors: vectors, K: ptr(4)}, []int{0, 4, 2, 1}, ""},
		{"default k is 5", TopKArgs{Query: []float32{1, 0, 0}, Vectors: append(vectors, vectors...)}, []int{0, 4, 5, 9, 2}, ""},
		{"no vectors", TopKArgs{Query: []float32{1}, K: ptr(3)}, []int{}, ""},
		{"empty query", TopKArgs{Vectors: vectors}, nil, `"query" must be a non-empty list`},
		{"ragged", TopKArgs{Query: []float32{1, 0}, Vectors: [][]float32{{1, 0}, {1}}}, nil, "vectors[1] has 1 elements, the query has 2"},
		{"k zero", TopKArgs{Query: []float32{1}, Vectors: [][]float32{{1}}, K: ptr(0)}, nil, `"k" must be at least 1, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TopKCPU(tt.args)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrBadArgs)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Indices)
			assert.Len(t, got.Scores, len(got.Indices))
		})
	}
}

func TestMatMulCPU(t *testing.T) {
	tests := []struct {
		name    string
		args    MatMulArgs
		want    [][]float32
		wantErr string
	}{
		{"2x2", MatMulArgs{A: [][]float32{{1, 2}, {3, 4}}, B: [][]float32{{5, 6}, {7, 8}}}, [][]float32{{19, 22}, {43, 50}}, ""},
		{"identity", MatMulArgs{A: [][]float32{{1, 0}, {0, 1}}, B: [][]float32{{2.5, -1}, {0, 3}}}, [][]float32{{2.5, -1}, {0, 3}}, ""},
		{"row times column", MatMulArgs{A: [][]float32{{1, 2, 3}}, B: [][]float32{{4}, {5}, {6}}}, [][]float32{{32}}, ""},
		{"column times row", MatMulArgs{A: [][]float32{{1}, {2}}, B: [][]float32{{3, 4, 5}}}, [][]float32{{3, 4, 5}, {6, 8, 10}}, ""},
		{"2x3 by 3x2", MatMulArgs{A: [][]float32{{1, 2, 3}, {4, 5, 6}}, B: [][]float32{{7, 8}, {9, 10}, {11, 12}}}, [][]float32{{58, 64}, {139, 154}}, ""},
		{"mismatch", MatMulArgs{A: [][]float32{{1, 2}}, B: [][]float32{{1, 2}}}, nil, "a is 1x2 and b is 1x2"},
		{"empty a", MatMulArgs{B: [][]float32{{1}}}, nil, "a is empty"},
		{"ragged b", MatMulArgs{A: [][]float32{{1, 2}}, B: [][]float32{{1, 2}, {3}}}, nil, "b[1] has 1 elements, b[0] has 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MatMulCPU(tt.args)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrBadArgs)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.C)
		})
	}
}

func TestMatMulFlatMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m, k, n := 17, 33, 9
	a, b := randFloats(r, m*k), randFloats(r, k*n)
	got := MatMulFlat(a, b, m, k, n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			assert.InDelta(t, s, got[i*n+j], 1e-5)
		}
	}
}

// TestPTX checks what can be checked without a GPU: each module declares the
// entry the pool asks for, targets 64-bit addresses, and takes the parameters
// the pool passes, in order and with the types it passes.
func TestPTX(t *testing.T) {
	tests := []struct {
		name   string
		ptx    string
		entry  string
		params []string
	}{
		{"cosine", CosinePTX, CosineEntry, []string{".u64", ".u64", ".u64", ".u32", ".u32", ".f32"}},
		{"matmul", MatMulPTX, MatMulEntry, []string{".u64", ".u64", ".u64", ".u32", ".u32", ".u32"}},
	}
	paramRE := regexp.MustCompile(`\.param\s+(\.[a-z0-9]+)\s+` + `([A-Za-z_$][A-Za-z0-9_$]*)`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, []string{tt.entry}, Entries(tt.ptx))
			assert.Regexp(t, `(?m)^\.version \d+\.\d+$`, tt.ptx)
			assert.Regexp(t, `(?m)^\.target sm_\d+$`, tt.ptx)
			assert.Contains(t, tt.ptx, ".address_size 64")
			assert.NotContains(t, tt.ptx, "\x00", "the pool appends the NUL the driver needs")

			start := strings.Index(tt.ptx, ".entry "+tt.entry+"(")
			require.GreaterOrEqual(t, start, 0)
			decl := tt.ptx[start : start+strings.Index(tt.ptx[start:], ")")]
			var types []string
			for _, m := range paramRE.FindAllStringSubmatch(decl, -1) {
				types = append(types, m[1])
				assert.Contains(t, tt.ptx, "["+m[2]+"]", "parameter %s is never loaded", m[2])
			}
			assert.Equal(t, tt.params, types)

			// every branch target is defined
			for _, m := range regexp.MustCompile(`bra\s+(\$?[A-Za-z_][A-Za-z0-9_$]*);`).FindAllStringSubmatch(tt.ptx, -1) {
				assert.Contains(t, tt.ptx, "\n"+m[1]+":", "label %s", m[1])
			}
		})
	}
}

func TestEntries(t *testing.T) {
	ptx := ".version 8.0\n.visible .entry a(\n)\n{}\n.entry b (\n)\n{}\n// .entry c(\n.func d(\n"
	assert.Equal(t, []string{"a", "b"}, Entries(ptx))
}

func randFloats(r *rand.Rand, n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = r.Float32()*2 - 1
	}
	return f
}

func BenchmarkTopKCPU(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, dim = 10000, 256
	q, m := randFloats(r, dim), randFloats(r, n*dim)
	b.SetBytes(int64(len(m) * 4))
	for b.Loop() {
		SelectTopK(CosineScores(q, m, dim), 10)
	}
}

func TestSelectTopKNegativeZero(t *testing.T) {
	got := SelectTopK([]float32{float32(math.Copysign(0, -1))}, 1)
	require.Len(t, got, 1)
	assert.False(t, math.Signbit(float64(got[0].Score)), "-0 must come out as 0")
	b, err := json.Marshal(NewTopKResult(got))
	require.NoError(t, err)
	assert.Equal(t, `{"indices":[0],"scores":[0]}`, string(b))
}

func ptr(k int) *int { return &k }

func TestDecode(t *testing.T) {
	var a TopKArgs
	require.NoError(t, Decode(ToolTopK, json.RawMessage(`{"query":[1,0],"vectors":[[0,1]],"k":2}`), &a))
	assert.Equal(t, 2, *a.K)
	err := Decode(ToolTopK, json.RawMessage(`{"query":[1],"vector":[[1]]}`), &a)
	require.ErrorIs(t, err, ErrBadArgs)
	assert.ErrorContains(t, err, `unknown field "vector"`)
	require.ErrorIs(t, Decode(ToolTopK, nil, &a), ErrBadArgs)
}
