package hyperlight

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/tars-engine/tars/activities"
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

// hostCall serves TARS_PORT_HOSTCALL. It reports whether the job is over.
func (v *vm) hostCall(j *job, addr uint64) bool {
	l := v.lay
	if !l.writable(addr, hcSize) {
		v.fault(j, fmt.Sprintf("host call block at %#x is not in writable guest memory", addr), false)
		return true
	}
	le := binary.LittleEndian
	b := v.mem[addr : addr+hcSize]
	namePtr, nameLen := le.Uint64(b[hcNamePtr:]), le.Uint64(b[hcNameLen:])
	inPtr, inLen := le.Uint64(b[hcInPtr:]), le.Uint64(b[hcInLen:])
	outPtr, outCap := le.Uint64(b[hcOutPtr:]), le.Uint64(b[hcOutCap:])
	if nameLen > 64 || !l.inRAM(namePtr, nameLen) || !l.inRAM(inPtr, inLen) {
		v.fault(j, "host call name or input lies outside guest memory", false)
		return true
	}
	if outCap > 0 && !l.writable(outPtr, outCap) {
		v.fault(j, fmt.Sprintf("host call output buffer %#x+%d is not in writable guest memory", outPtr, outCap), false)
		return true
	}
	name := string(v.mem[namePtr : namePtr+nameLen])
	if j.boot || j.grants == nil || !slices.Contains(j.grants.HostFuncs, name) {
		j.err = activities.NonRetryable(activities.ErrPolicyRefused, nil,
			"hyperlight: guest %q called host function %q, which the run's policy does not grant (add it to grants.host_funcs)",
			v.img.name, name)
		return true
	}
	fn, ok := v.r.hostFuncs[name]
	if !ok {
		v.fault(j, fmt.Sprintf("host function %q is granted but this worker does not provide it (it has %v)", name, v.r.hostFuncNames()), false)
		return true
	}
	out, err := fn(v.mem[inPtr : inPtr+inLen])
	if err != nil {
		j.err = activities.Retryable(activities.ErrToolFailed, err, "hyperlight: host function %q failed for guest %q: %v", name, v.img.name, err)
		return true
	}
	le.PutUint64(b[hcOutLen:], uint64(len(out)))
	if uint64(len(out)) > outCap {
		le.PutUint64(b[hcStatus:], hostTooSmall)
		return false
	}
	copy(v.mem[outPtr:], out)
	le.PutUint64(b[hcStatus:], 0)
	return false
}
