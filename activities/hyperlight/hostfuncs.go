package hyperlight

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

// HostFunc is a function a guest may call through tars_host_call when the
// run's policy grants its name (grants.host_funcs). It gets the guest's
// input bytes and returns the result bytes. It runs on the VM's thread
// while the guest waits, inside the call's deadline; it must not keep in.
type HostFunc func(in []byte) ([]byte, error)

// builtinHostFuncs are offered by every Runner. They are deterministic:
// no clock, no randomness, no I/O.
var builtinHostFuncs = map[string]HostFunc{
	// sha256 returns the SHA-256 of its input as 64 lowercase hex digits.
	"sha256": func(in []byte) ([]byte, error) {
		sum := sha256.Sum256(in)
		return []byte(hex.EncodeToString(sum[:])), nil
	},
	// upper returns its input (UTF-8) in upper case.
	"upper": func(in []byte) ([]byte, error) { return bytes.ToUpper(in), nil },
}
