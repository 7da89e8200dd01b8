//go:build race

package workflows

import "time"

// testDeadlockLimit: the race detector makes evaluation several times
// slower, so tests that evaluate up to a workflow task's expression budget
// give the SDK's deadlock detector this long instead of its 1 s.
const testDeadlockLimit = 10 * time.Second
