package devserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/server/common/dynamicconfig"
	"gopkg.in/yaml.v3"
)

// TunedDynamicConfig returns the dynamic config TARS applies over Temporal's
// defaults when Options.Tuned is set. Temporal's defaults are sized for a
// multi-host cluster with many shards and tenants; a dev server is one process,
// one history shard, one SQLite database and one user, so limits that protect
// neighbours only add latency there. Each key exists in server v1.32.1
// (TestTunedDynamicConfigKeysExist checks) and is explained beside its value.
// The map is new on every call; callers may change it.
//
// docs/devserver.md records what each group was measured to change.
func TunedDynamicConfig() map[string]any {
	return map[string]any{
		// History task queues. Every hand-off inside the server (start ->
		// workflow task, command -> activity task, completion -> next workflow
		// task, timer due -> fire, close -> visibility record) is a task
		// written by the history service and picked up by a queue reader. A
		// reader takes a token before each read from a bucket that refills at
		// 20 reads/s per shard (burst 20). A lone workflow on an idle server
		// finds the bucket full, but as soon as work is sustained every read
		// waits up to 50 ms, and with one shard every hand-off shares the
		// bucket: a chain of steps runs at 10 steps/s whatever the CPU.
		// Measured here: one-step workflows back to back 150 -> 17 ms (p50), a
		// 50-step chain 9.9 -> 150-210 steps/s. Readers only read when told
		// of new tasks or when a timer is due, so a high limit does not make
		// an idle server spin.
		"history.transferProcessorMaxPollRPS":   10_000, // workflow and activity task dispatch
		"history.timerProcessorMaxPollRPS":      10_000, // timers, timeouts, retries with backoff
		"history.visibilityProcessorMaxPollRPS": 10_000, // status seen by the UI and List queries
		"history.outboundProcessorMaxPollRPS":   10_000, // Nexus operations and completion callbacks

		// Long polls on history: a client waiting for a workflow's result, and
		// update waits. The server wakes such a poll through a channel that
		// holds one notification and drops any that arrives while it is full.
		// A fast one-step workflow commits its last events within a
		// millisecond or two of the previous ones, and on a busy 2-core
		// machine the poll often has not drained the previous notification
		// yet: the close is dropped and the caller waits out the whole poll,
		// 20 s by default. Measured here: 1 tuned run in 16 (p99 20 s); even
		// Temporal's defaults lose 1 isolated run in 70. A short poll bounds
		// the loss to the interval; the price is one cheap re-poll (a cached
		// mutable-state read) per waiting client per interval. At 100 ms a
		// burst of 1,000 runs whose clients all wait for their results made
		// 10,000 re-polls a second, which starved the single SQLite
		// connection until starts timed out and the shard was lost
		// (TestBurstOfStartsLosesNone); 1 s keeps that burst working and
		// bounds a lost close to one second.
		"history.longPollExpirationInterval": time.Second,

		// Task-queue long polls. An idle worker's poll is answered empty
		// after this interval and the worker polls again, which refreshes
		// its poller's last-access time. TARS counts a pool as live when a
		// poller was seen within workers.DefaultLivenessWindow (10 s), so
		// the interval must stay well under it: at Temporal's default of a
		// minute, an idle live pool looks dead and a killed one looks live
		// for a minute. The price is one empty poll per poller per 5 s.
		"matching.longPollExpirationInterval": 5 * time.Second,

		// Queue checkpoints. A queue drops finished tasks from memory, counts
		// them off its pending-task limit and deletes them from the database
		// only at a checkpoint, every 30 s by default. A large fan-out then
		// drags thousands of finished tasks along and can reach
		// history.queuePendingTasksMaxCount (10,000), at which the reader stops
		// loading for history.*ProcessorPollBackoffInterval (5 s). With a file
		// database, the checkpoint is also how far a restart re-scans.
		// Measured here: 3 workflows of 1,900 parallel activities took 17-21 s
		// tuned, 25-30 s tuned but with 30 s checkpoints. A checkpoint is one
		// small write.
		"history.transferProcessorUpdateAckInterval":   5 * time.Second,
		"history.timerProcessorUpdateAckInterval":      5 * time.Second,
		"history.visibilityProcessorUpdateAckInterval": 5 * time.Second,
		"history.outboundProcessorUpdateAckInterval":   5 * time.Second,

		// Task queue partitions. Matching splits each task queue into 4
		// partitions by default so that a busy queue spreads over matching
		// hosts. Here there is one matching host; a task and a waiting poll
		// that land on different partitions meet only through forwarding to
		// the root partition (rate-limited, one in flight per partition), and
		// a task that finds no poll within matching.syncMatchWaitDuration
		// (200 ms) goes to the database backlog of its partition. With one
		// partition every task meets every waiting poll directly (sync match)
		// and nothing is forwarded. No change measured on one idle workflow
		// (the SDK's pollers find the task either way); this is for many
		// pools and many pollers on one queue.
		"matching.numTaskqueueReadPartitions":  1,
		"matching.numTaskqueueWritePartitions": 1,

		// Request rate limits. They protect a shared cluster from a noisy
		// namespace; a dev server has one user, and a limit reached there only
		// turns a burst (a large fan-out schedules thousands of activities in
		// one workflow task) into ResourceExhausted errors that clients retry
		// after a back-off. Defaults: frontend 2,400/s per host and per
		// namespace, matching 1,200/s, history 3,000/s, all within reach of a
		// fast laptop since every activity costs several requests (poll,
		// respond, add-task). CPU is the real limit of a dev server.
		"frontend.rps":          100_000,
		"frontend.namespaceRPS": 100_000,
		"matching.rps":          100_000,
		"history.rps":           100_000,
		// List/Count/Describe calls (the UI refreshes its workflow list and
		// counts on a timer, TARS's routing asks which pools have pollers) are
		// limited to 10/s per namespace with no burst by default: two open UI
		// tabs and a tars command can hit it.
		"frontend.namespaceRPS.visibility": 200,

		// History events cache. It is per shard, 512 KiB by default because a
		// cluster has hundreds of shards per host; the dev server has one shard,
		// so 512 KiB is all there is, and a fan-out's scheduled-activity events
		// stop fitting after a few hundred activities. A miss reads and decodes
		// history pages from SQLite. 64 MiB holds tens of thousands of events.
		"history.eventsCacheMaxSizeBytes": 64 << 20,
		// Mutable-state cache: 128,000 workflows per host by default, each kept
		// up to an hour after its last use. A dev server that runs for days
		// would grow to that; 16,384 is far more than any dev session has open,
		// and a miss costs one SQLite read. This one is for memory, not speed.
		"history.hostLevelCacheMaxSize": 16_384,
	}
}

// VersioningDynamicConfig returns what Temporal Worker Versioning needs, which
// the dev server applies whether or not it is tuned (tars worker
// --deployment-name, docs/deploy.md). Server v1.32.1 enables worker
// deployment versions by default; they are set here anyway so that a server
// upgrade that changes a default cannot silently turn rollouts off. The map is
// new on every call.
func VersioningDynamicConfig() map[string]any {
	return map[string]any{
		// Worker deployment versions (versioning v3): the Worker Deployment
		// RPCs, the deployment and version entity workflows in the worker
		// service, and version-aware routing in matching and history.
		"system.enableDeploymentVersions": true,
		// Versioning behaviors and overrides in the workflow APIs (start,
		// describe, update options).
		"frontend.workerVersioningWorkflowAPIs": true,
		// A version that stops being current is "draining" while pinned runs
		// remain open on it and "drained" once none does: the signal that its
		// workers can stop. A cluster re-counts every 3 minutes, after a
		// 3-minute grace for visibility to catch up; the dev server's
		// visibility is its own SQLite database, current at once, so a few
		// seconds make the rollout's last step visible while one watches.
		"matching.wv.VersionDrainageStatusVisibilityGracePeriod": 5 * time.Second,
		"matching.wv.VersionDrainageStatusRefreshInterval":       5 * time.Second,
	}
}

// buildDynamicConfig returns the settings the server runs with: what
// versioning needs, the tuned ones if asked, then the caller's overrides. Every key and value is checked against
// the server's registry first: the server itself ignores an unknown key and
// falls back to the default on a bad value, with at most a log line, so a typo
// would silently undo a setting.
func buildDynamicConfig(tuned bool, overrides map[string]any) (dynamicconfig.StaticClient, error) {
	merged := VersioningDynamicConfig()
	if tuned {
		maps.Copy(merged, TunedDynamicConfig())
	}
	for k, v := range overrides {
		// Keys are case-insensitive in the server; let an override replace a
		// tuned value whatever its case.
		for existing := range merged {
			if strings.EqualFold(existing, k) {
				delete(merged, existing)
			}
		}
		merged[k] = v
	}
	if err := checkDynamicConfig(merged); err != nil {
		return nil, err
	}
	client := make(dynamicconfig.StaticClient, len(merged))
	for k, v := range merged {
		client[dynamicconfig.MakeKey(k)] = v
	}
	return client, nil
}

// checkDynamicConfig reports keys the server does not know and values it
// could not convert, through the server's own YAML loader (the only public
// door to its registry). The loader reads numbers as seconds for durations,
// so durations go in as text.
func checkDynamicConfig(settings map[string]any) error {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		v := settings[k]
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		doc, err := yaml.Marshal([]map[string]any{{"value": v}})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		var loader dynamicconfig.YamlLoader
		loader.LoadValue(dynamicconfig.MakeKey(k), doc)
		for _, e := range append(loader.Errors, loader.Warnings...) {
			problems = append(problems, fmt.Sprintf("%s: %v", k, e))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("dynamic config: %s", strings.Join(problems, "; "))
	}
	return nil
}
