package trace

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// 1,666 sequential steps: 10,001 events.
const steps10k = 1666

func TestSyntheticHistoryReplaysAndBuilds(t *testing.T) {
	h := syntheticHistory(steps10k)
	require.Len(t, h.Events, 10_001)

	start := time.Now()
	tr, err := BuildHistory(h)
	require.NoError(t, err)
	t.Logf("build 10k events: %s", time.Since(start))
	require.Equal(t, RunCompleted, tr.Status)
	require.Len(t, tr.Steps, steps10k)
	require.Equal(t, steps10k, tr.Totals.Run.Activities)
	// Every fifth activity took three attempts.
	require.Equal(t, steps10k+2*(steps10k/5), tr.Totals.Run.Attempts)

	start = time.Now()
	require.NoError(t, Replay(h))
	t.Logf("replay 10k events: %s", time.Since(start))
}

// BenchmarkBuild10k builds the trace of a 10,001-event history. Goal: ≤ 1 s.
func BenchmarkBuild10k(b *testing.B) {
	h := syntheticHistory(steps10k)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := BuildHistory(h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(h.Events)), "events")
}

// BenchmarkReplay10k replays a 10,001-event history against the current
// interpreter. Goal: ≤ 2 s.
func BenchmarkReplay10k(b *testing.B) {
	h := syntheticHistory(steps10k)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := Replay(h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(h.Events)), "events")
}
