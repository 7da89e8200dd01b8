// Package bench measures what TARS costs over Temporal: the same workloads
// run as compiled metascripts (through the interpreter and the pools) and as
// hand-written Go workflows and activities, on one server, alternating, and
// the medians go into a table and a JSON report.
//
// The workloads are identical on both sides: the same number of activities,
// the same activity input and output (an activities.Call in, an
// activities.Result out, the native echo tool's behaviour), and the same task
// queue layout (workflows on <prefix>.workflows, activities on
// <prefix>.native, each polled by its own worker with the options the TARS
// host uses). What differs is only the workflow code: the interpreter
// walking a Plan, or a Go function.
//
// The package takes a client.Client and starts workers; it never starts a
// Temporal server itself, so that its tests do not link the server. `tars
// bench` (cmd/tars/bench.go) starts the servers and calls it.
//
// It is not a load generator for production clusters: figures are medians
// of a few runs on one machine, meant to be compared within one report.
package bench
