package kernels

import "fmt"

// ToolMatMul is the name of the float32 matrix multiply tool.
const ToolMatMul = "matmul"

// MatMulArgs are the arguments of matmul: C = A x B, with A m x k and B k x n,
// given as rows.
type MatMulArgs struct {
	A [][]float32 `json:"a"`
	B [][]float32 `json:"b"`
}

// MatMulResult is the output of matmul: C as m rows of n floats.
type MatMulResult struct {
	C [][]float32 `json:"c"`
}

// MaxMatMulFMAs bounds m*k*n for one matmul call, so that a call cannot hold
// a pool slot (or the CPU, on the native fallback) for long: 2^31 fused
// multiply-adds are a few seconds of one CPU core and well under a
// millisecond of a data-centre GPU.
const MaxMatMulFMAs = 1 << 31

// Flat validates a and returns A and B packed row-major with their
// dimensions. Errors wrap ErrBadArgs.
func (a MatMulArgs) Flat() (fa, fb []float32, m, k, n int, err error) {
	fa, m, k, err = pack("a", a.A)
	if err != nil {
		return nil, nil, 0, 0, 0, err
	}
	var kb int
	fb, kb, n, err = pack("b", a.B)
	if err != nil {
		return nil, nil, 0, 0, 0, err
	}
	if kb != k {
		return nil, nil, 0, 0, 0, fmt.Errorf("%w: matmul: a is %dx%d and b is %dx%d: a's columns must equal b's rows", ErrBadArgs, m, k, kb, n)
	}
	if int64(m)*int64(k)*int64(n) > MaxMatMulFMAs {
		return nil, nil, 0, 0, 0, fmt.Errorf("%w: matmul: %dx%d times %dx%d is more than %d multiply-adds", ErrBadArgs, m, k, k, n, int64(MaxMatMulFMAs))
	}
	return fa, fb, m, k, n, nil
}

func pack(name string, rows [][]float32) (flat []float32, nrows, ncols int, err error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: matmul: %s is empty", ErrBadArgs, name)
	}
	nrows, ncols = len(rows), len(rows[0])
	if int64(nrows)*int64(ncols) > MaxElements {
		return nil, 0, 0, fmt.Errorf("%w: matmul: %s is %dx%d, more than %d elements", ErrBadArgs, name, nrows, ncols, MaxElements)
	}
	flat = make([]float32, 0, nrows*ncols)
	for i, r := range rows {
		if len(r) != ncols {
			return nil, 0, 0, fmt.Errorf("%w: matmul: %s[%d] has %d elements, %s[0] has %d", ErrBadArgs, name, i, len(r), name, ncols)
		}
		flat = append(flat, r...)
	}
	return flat, nrows, ncols, nil
}

// MatMulFlat multiplies the row-major m x k matrix a by the k x n matrix b
// on the CPU and returns the m x n product. It accumulates in float64, so it
// is at least as exact as the GPU kernel. Cost: m*k*n multiply-adds.
func MatMulFlat(a, b []float32, m, k, n int) []float32 {
	c := make([]float32, m*n)
	acc := make([]float64, n)
	for i := range m {
		clear(acc)
		for p := range k {
			x := float64(a[i*k+p])
			if x == 0 {
				continue
			}
			for j, y := range b[p*n : (p+1)*n] {
				acc[j] += x * float64(y)
			}
		}
		for j, s := range acc {
			c[i*n+j] = float32(s)
		}
	}
	return c
}

// Rows splits a row-major matrix into rows of n floats (sharing its memory).
func Rows(flat []float32, n int) [][]float32 {
	rows := make([][]float32, 0, len(flat)/n)
	for i := 0; i+n <= len(flat); i += n {
		rows = append(rows, flat[i:i+n:i+n])
	}
	return rows
}

// MatMulCPU runs matmul on the CPU: the reference the GPU kernel is checked
// against and the native pool's implementation of the tool.
func MatMulCPU(a MatMulArgs) (MatMulResult, error) {
	fa, fb, m, k, n, err := a.Flat()
	if err != nil {
		return MatMulResult{}, err
	}
	return MatMulResult{C: Rows(MatMulFlat(fa, fb, m, k, n), n)}, nil
}
