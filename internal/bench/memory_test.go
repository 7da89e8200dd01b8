package bench

import (
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatusKB(t *testing.T) {
	status := []byte("Name:\ttars\nVmPeak:\t 2048 kB\nVmHWM:\t    1536 kB\nVmRSS:\t 1024 kB\n")
	v, err := parseStatusKB(status, "VmHWM:")
	require.NoError(t, err)
	assert.Equal(t, uint64(1536<<10), v)

	_, err = parseStatusKB(status, "VmSwap:")
	assert.ErrorContains(t, err, "no VmSwap: line")
	_, err = parseStatusKB([]byte("VmHWM:\t12 MB\n"), "VmHWM:")
	assert.ErrorContains(t, err, "unexpected")
}

func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	before, err := PeakRSS(0)
	require.NoError(t, err)
	assert.Positive(t, before)
	// A reset may be refused (some sandboxes); reading must still work.
	if err := ResetPeakRSS(0); err == nil {
		after, err := PeakRSS(0)
		require.NoError(t, err)
		assert.Positive(t, after)
	}
	byPID, err := PeakRSS(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, byPID)
}
