// Package plan defines the Plan: the compiled, versioned, hashed form of a
// metascript. The Plan is the only thing the workflow interpreter knows about
// a metascript; it travels in the workflow input so that a run never depends on
// a file that may change later, and its history alone is enough to replay it.
//
// This package holds data types and pure helpers only. It does not parse YAML
// (package metascripts does) and it does not execute anything (package
// workflows does).
package plan
