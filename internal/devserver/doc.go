// Package devserver runs a real Temporal server and the Temporal Web UI inside
// the calling process, for `tars dev`, for tests that need a server, and for
// benchmarks.
//
// The server is the same code as a production Temporal server (v1.32.1) with
// every service (frontend, history, matching, worker) in one process, one
// history shard, static membership (no ringpop) and SQLite for persistence
// and visibility: in memory by default, or in a file that keeps workflows
// across restarts. Start returns once the server accepts work: namespaces
// exist, search attributes are registered and the frontend answers.
//
// With Options.Tuned, TARS's dynamic config (TunedDynamicConfig) replaces
// defaults that are sized for multi-host clusters: one-step workflows run
// back to back go from submit to result in about 17 ms instead of 150 ms, and
// a chain of steps runs 15 to 20 times faster. docs/devserver.md has the
// figures and the reason for each setting.
//
// This is the only TARS package that imports go.temporal.io/server and the UI
// server. Linking them adds about 200 MB to a binary and minutes to a cold
// build, so packages that only talk to Temporal import the SDK, never this
// package; their unit tests use the SDK's testsuite instead.
//
// It is not for production. One process on one SQLite database has no
// replication, no TLS or authorization, no metrics endpoint and no archival;
// run a Temporal cluster (or Temporal Cloud) for anything that must not be
// lost. Two servers must not share one database file. A database file is
// tied to the server version that created its schema.
//
// Costs to know: a start takes about 0.4 s on two cores and an idle server
// about 40 MB of memory. The SQLite plugin keeps each database open until the
// process exits, so a process that starts many in-memory servers (a test
// binary) keeps each one's data in memory until it exits.
package devserver
