package hostmem

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	total, avail := Parse([]byte("MemTotal:       16318412 kB\nMemFree: 1 kB\nMemAvailable:    8159206 kB\nbad line\n"))
	assert.Equal(t, uint64(16318412)<<10, total)
	assert.Equal(t, uint64(8159206)<<10, avail)
	total, avail = Parse([]byte("nothing here"))
	assert.Zero(t, total)
	assert.Zero(t, avail)
}

func TestSlots(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		budget, perCall uint64
		procs, want     int
	}{
		{4096 * mib, 192 * mib, 2, 8}, // capped at 4 per core
		{1024 * mib, 192 * mib, 8, 5}, // memory-bound
		{100 * mib, 192 * mib, 8, 1},  // at least one
		{1024 * mib, 0, 2, 1},         // nonsense per-call size still gives one
	} {
		assert.Equal(t, tt.want, Slots(tt.budget, tt.perCall, tt.procs), "%+v", tt)
	}
	assert.Equal(t, uint64(50), Budget(100))
	assert.Positive(t, Available())
}
