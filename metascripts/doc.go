// Package metascripts is the metascript language: it reads a metascript
// (YAML), validates it and compiles it into a plan.Plan, the only thing the
// workflow interpreter knows about it.
//
// The pipeline is parse (yaml.v3 nodes, positions kept) → read (every key
// against the grammar tables in grammar.go, every value against its type)
// → resolve (agents against package configs, runtime chains against a
// Catalog, the DAG of needs) → check expressions (CEL, typed where the
// inputs' types are known) → compile called metascripts → assemble the
// Plan. Faults never stop the pipeline: all of them are returned together
// as Diagnostics, each at file:line:col, with a "did you mean" where a
// name is close to a known one.
//
// Graph draws a Plan as Mermaid, and Schema gives editors a JSON Schema of
// the language generated from the same grammar tables.
//
// This package does not run anything (package workflows interprets the
// Plan), evaluate expressions (package expr does, at run time), or know
// which pools are live (the Catalog it is given says which tools exist).
package metascripts
