// Package layers holds no code: its test checks, with go list, that every
// package of the module imports only packages of lower layers, the rule
// docs/architecture.md draws (data moves one way: a metascript becomes a
// Plan, the interpreter walks the Plan, the pools run its activities).
package layers
