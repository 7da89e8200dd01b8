//go:build linux && amd64

package hyperlight

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

// The hostile-guest suite: instructions and accesses a guest must not get
// away with. With the tests it names in SECURITY.md (wrmsr, debug and
// control registers, LIDT, wild reads, the host's page tables, stack
// overflow, unknown ports, oversized output, infinite loops, data left by
// the previous call) it runs in `make test` wherever /dev/kvm is usable
// and skips, saying why, elsewhere.
func TestHostileGuests(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 2})

	// CPUID is not privileged: it runs, and sees the filtered CPUID the
	// runner gives every VM (guestCPUID), with the hypervisor bit set.
	res, err := runWithin(r, 5*time.Second, call("hostile", `"cpuid"`))
	require.NoError(t, err)
	var seen struct {
		MaxLeaf       int `json:"max_leaf"`
		HypervisorBit int `json:"hypervisor_bit"`
	}
	require.NoError(t, json.Unmarshal(res.Output, &seen))
	assert.Positive(t, seen.MaxLeaf)

	for _, mode := range []string{"rdmsr", "int3", "cli", "hlt", "in", "write-high", "write-code"} {
		t.Run(mode, func(t *testing.T) {
			_, err := runWithin(r, 5*time.Second, call("hostile", `"`+mode+`"`))
			ae := appError(t, err, activities.ErrGuestFault)
			assert.Regexp(t, `rip=0x[0-9a-f]+`, ae.Error())
			assert.NotContains(t, ae.Error(), "allowed")

			res, err := runWithin(r, 5*time.Second, call("sha256", `"abc"`))
			require.NoError(t, err, "the pool keeps serving")
			assert.Equal(t, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`, string(res.Output))
		})
	}
	assert.LessOrEqual(t, r.Stats().VMsAlive, 2)
}
