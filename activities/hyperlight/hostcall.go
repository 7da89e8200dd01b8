//go:build linux && amd64

package hyperlight

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tars-engine/tars/activities"
)

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
