package activities

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Stable error type names. They appear as the application error type in the
// history and can be named in a step's retry.non_retryable list or matched
// by an on_error rule. Never rename one once released.
const (
	ErrToolNotFound   = "ToolNotFound"   // the runtime does not offer this tool
	ErrPolicyRefused  = "PolicyRefused"  // the policy does not grant what the call needs
	ErrBadArgs        = "BadArgs"        // the call's arguments are invalid for the tool
	ErrToolFailed     = "ToolFailed"     // the tool ran and reported failure (retryable)
	ErrSecretMissing  = "SecretMissing"  // a secret input's TARS_SECRET_<NAME> is not set on the worker
	ErrOutputTooLarge = "OutputTooLarge" // the tool produced more output than allowed

	ErrModuleNotFound = "ModuleNotFound"  // wasm: the pool serves no module by that name
	ErrModuleInvalid  = "ModuleInvalid"   // wasm/hyperlight: the module or guest ELF is invalid
	ErrModuleChanged  = "ModuleChanged"   // wasm/hyperlight: sha256 differs from the Plan's
	ErrWasmTrap       = "WasmTrap"        // wasm: the module trapped
	ErrWasmMemory     = "WasmMemoryLimit" // wasm: a memory.grow past the call's limit was refused
	ErrWasmDeadline   = "WasmDeadline"    // wasm: stopped shortly before its deadline
	ErrWasmExit       = "WasmExit"        // wasm: the module exited non-zero

	ErrGuestFault    = "GuestFault"    // hyperlight: triple fault, wild access, unknown port, oversized output
	ErrGuestDeadline = "GuestDeadline" // hyperlight: the call ran past its deadline
	ErrGuestAbort    = "GuestAbort"    // hyperlight: the guest aborted with a message
	ErrGuestNotFound = "GuestNotFound"

	ErrNoDevice = "NoDevice" // cuda: no usable GPU

	ErrPoolBusy = "PoolBusy" // wasm: the pool's memory budget stayed full until the deadline (retryable)
)

// NonRetryable returns an application error that Temporal will not retry,
// with a stable type name and a message a user can act on.
func NonRetryable(typ string, cause error, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), typ, cause)
}

// Retryable returns an application error of a stable type that Temporal
// retries under the step's retry policy.
func Retryable(typ string, cause error, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), typ, cause)
}
