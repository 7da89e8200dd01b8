// Package shellns is the first process of the namespaces a shell tool
// command runs in: the worker starts its own binary again (/proc/self/exe)
// as that process, with argv[0] set to [Arg0], in new user, PID, mount and
// IPC namespaces. The package's init function notices, takes over before
// main runs, mounts a fresh /proc, starts the command and reports how it
// ended on file descriptor [StatusFD]. Package native starts it; importing
// package native is what links this into every worker binary.
//
// The init runs before main, so it sees none of the worker's configuration
// and must stay small: the standard library only.
//
// This package is not an API and not a sandbox for hostile code: the
// namespaces keep a command away from the worker's process (its
// environment, memory and file descriptors) and end every process the
// command started when it ends or the worker dies.
package shellns

// Arg0 is argv[0] of the namespace's init. Its other arguments are the
// directory to run in ("" for the worker's own), the program's path, and
// the program's argv.
const Arg0 = "tars-shell-init"

// StatusFD is the init's end of a stream socket to the worker. The init
// writes one message on it before it exits, and exits when the worker's end
// closes (the worker died). The messages are:
//
//	exit N       the program exited with status N
//	signal N     the program was killed by signal N
//	setup: TEXT  the namespace could not be prepared (mounting /proc)
//	start: TEXT  the program could not be started (chdir, exec)
const StatusFD = 3
