// Package expr evaluates the ${...} expressions of metascripts with CEL
// (github.com/google/cel-go): deterministic, side-effect free and
// cost-bounded, so the interpreter workflow may evaluate them during replay.
//
// Expressions see these variables: inputs (the run's inputs), steps (per step
// id: output, status, approved, items...), item and index (inside foreach and
// loops), and output (inside checks). Closures declared by a metascript become
// CEL functions.
//
// Work is counted in CEL cost units, closures at their real cost: one
// evaluation may spend CostLimit, and an Env made with WithBudget charges
// every evaluation to a Budget, which the interpreter gives each workflow
// task (TaskBudget). Past either bound an evaluation stops and returns a
// *CostError.
//
// Maps are iterated in sorted key order, never Go's random order, so that
// macros such as map() give the same list on every replay.
//
// This package does not know about YAML positions; the compiler maps the
// offsets it reports back to file:line:col.
package expr
