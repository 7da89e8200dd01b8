package kernels

import (
	_ "embed"
	"regexp"
)

// CosinePTX is the PTX module of the vector.topk scoring kernel (cosine.cu).
// The driver needs it NUL-terminated; the cuda package adds the NUL.
//
//go:embed cosine.ptx
var CosinePTX string

// MatMulPTX is the PTX module of the matmul kernel (matmul.cu).
//
//go:embed matmul.ptx
var MatMulPTX string

// Kernel entry points, as named by `.entry` in the PTX and `extern "C"` in the
// .cu sources.
const (
	// CosineEntry computes one cosine score per row:
	// (v, q, scores *float32, n, d uint32, qinv float32).
	CosineEntry = "tars_cosine"
	// MatMulEntry computes C = A x B: (a, b, c *float32, m, n, k uint32).
	MatMulEntry = "tars_matmul"
)

var entryRE = regexp.MustCompile(`(?m)^\s*(?:\.visible\s+|\.weak\s+)?\.entry\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*\(`)

// Entries returns the names of the kernels a PTX module defines, in order.
// It is a text scan, not a PTX parser: enough to check that a module offers
// the entry points the pool will ask the driver for.
func Entries(ptx string) []string {
	var names []string
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		names = append(names, m[1])
	}
	return names
}
