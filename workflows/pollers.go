package workflows

// PollersActivity is the activity type the interpreter runs on its own task
// queue to learn which runtime pools have live pollers. Workflow code may
// not do I/O, so it asks through this activity; workers.Pollers serves it.
const PollersActivity = "tars.pollers"

// PollersRequest names the task queues to look at, per runtime.
type PollersRequest struct {
	Queues map[string]string `json:"queues"` // runtime -> task queue
}

// PollersResult says which runtimes have a live pool.
type PollersResult struct {
	Live map[string]bool `json:"live"`
	// Pollers counts the pollers seen per runtime, for the trace.
	Pollers map[string]int `json:"pollers"`
}
