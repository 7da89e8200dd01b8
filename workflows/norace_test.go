//go:build !race

package workflows

import "time"

// testDeadlockLimit is 0: tests keep the SDK's 1 s deadlock limit.
const testDeadlockLimit time.Duration = 0
