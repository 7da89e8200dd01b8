package activities

// Output contracts of the tools more than one runtime offers. A step may
// name such a tool with a fallback chain (runtime: [hyperlight, wasm,
// native], or [cuda, native]) and must get the same output whichever pool
// serves it, so each has one type, one set of defaults, and a test that
// decodes every runtime's output into it (contract_test.go).
//
//	tool          runtimes                   output
//	vector.topk   cuda, native               kernels.TopKResult {"indices", "scores"}; k defaults to kernels.DefaultK
//	matmul        cuda, native               kernels.MatMulResult {"c"}
//	sha256        hyperlight, wasm, native   a JSON string of 64 lowercase hex digits
//	json-field    hyperlight, wasm, native   the JSON text at the path, as it appears in the input; null if none
//	policy-check  hyperlight, wasm, native   PolicyDecision
//
// The cuda tools' types live in activities/cuda/kernels, which holds their
// CPU reference and imports nothing GPU-related; the three guest tools
// produce the same bytes on every runtime: hyperlight and wasm run the same
// C source (activities/hyperlight/guests), native a Go twin.
var SharedTools = map[string][]string{
	"vector.topk":  {"cuda", "native"},
	"matmul":       {"cuda", "native"},
	"sha256":       {"hyperlight", "wasm", "native"},
	"json-field":   {"hyperlight", "wasm", "native"},
	"policy-check": {"hyperlight", "wasm", "native"},
}

// PolicyDecision is the output of policy-check. Rule is the index of the
// deciding rule (a named policy's built-in rules first, then the call's
// "rules"), or -1 when none matched, which is a deny.
type PolicyDecision struct {
	Decision string `json:"decision"`         // "allow" or "deny"
	Rule     int    `json:"rule"`             // the deciding rule, or -1
	Reason   string `json:"reason,omitempty"` // "no rule matched" when Rule is -1
	Policy   string `json:"policy,omitempty"` // the named rule set, when one was given
}
