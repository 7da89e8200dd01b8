// Package native is the runner of the native pool: tools written in Go and
// compiled into the worker, served on the tars.native task queue. It holds
// the built-in tools a metascript can name without shipping any code (echo,
// sleep, fail, http.request, json.query, json.transform, text.template,
// file.read, file.write, shell, model.chat, vector.topk) and a registry where
// an embedder adds its own with [Runner.Register].
//
// Every call goes through [Runner.Run]: the tool is looked up by the
// activity's name, its JSON arguments are checked strictly (an unknown field
// is a BadArgs error, so a typo does not silently fall back to a default),
// and whatever the call could reach outside the process (hosts, directories,
// processes) is refused unless the run's policy granted it in the Call's
// [activities.Grants], which the worker has already bounded by its
// operator's [activities.Ceiling]; a grant the ceiling took is reported
// with [activities.CeilingRefusal]. Errors carry the stable type names of package
// activities so a step's retry policy and on_error rules can match them.
//
// Native tools run in the worker's own process: isolation is "process". The
// grants keep honest metascripts within bounds; they are not a sandbox for
// hostile code. Untrusted code belongs in the wasm or hyperlight pools. The
// one tool that starts other programs, shell, starts them in new user, PID,
// mount and IPC namespaces (internal/shellns), so that a granted command
// cannot read the worker's environment or memory nor outlive the worker.
//
// This package does not poll task queues, register activities or bound
// concurrency (package workers does, using [Runner.Capacity]), and it knows
// nothing of metascripts or the Plan. docs/native-tools.md documents every
// built-in tool's arguments and output.
package native
