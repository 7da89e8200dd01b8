// Package trace turns a run's Temporal history into the record of how its
// agents coordinated, and replays histories against the current interpreter.
//
// Build derives a Trace from the history events alone: the Plan travels in
// the first event (the workflow input), so the trace knows every step, its
// agent, department and team, and its runtime chain, even for steps that
// never ran. From the events it adds what happened: which runtime and worker
// ran each activity, when it was scheduled, started and closed, how many
// attempts it took and why the last one before it failed, fallback hops
// between runtimes, payload sizes, pool figures reported in Result.Metrics,
// approvals, child runs and continue-as-new. Renderers print it as a tree,
// JSON, Chrome trace events (Perfetto) and Mermaid.
//
// Temporal records only the last attempt of an activity: its Started event
// carries the attempt number and the failure of the attempt before it.
// Earlier attempts leave no timings, and the trace does not invent them.
//
// Replay replays a history against workflows.Interpreter with the SDK's
// replayer and reports the first nondeterminism as a *Divergence naming the
// history event.
//
// The package reads histories; it does not fetch them (the CLI does) and it
// never writes to a server.
package trace
