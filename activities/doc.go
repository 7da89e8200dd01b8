// Package activities is the contract between the interpreter workflow and the
// worker pools: the Call an activity receives, the Result it returns, the
// Runner each runtime implements, and the stable error type names a user can
// match on in a retry policy or an on_error rule.
//
// Each runtime lives in its own sub-package (native, wasm, hyperlight,
// cuda). This package also holds what they share: the artifact inventory
// of the file-based pools (Artifacts) and the output contracts of tools
// offered by several runtimes (SharedTools). It knows nothing of workflows,
// metascripts or Temporal workers.
package activities
