// Package activities is the contract between the interpreter workflow and the
// worker pools: the Call an activity receives, the Result it returns, the
// Runner each runtime implements, and the stable error type names a user can
// match on in a retry policy or an on_error rule.
//
// Each runtime lives in its own sub-package (native, wasm, hyperlight). This
// package knows nothing of workflows, metascripts or Temporal workers.
package activities
