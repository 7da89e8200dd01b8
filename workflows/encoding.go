package workflows

import (
	"strconv"
	"strings"
)

// The interpreter writes these facts into the history and the trace reads
// them back; both go through the functions below, so there is one encoding.

// Activity id scopes: a step's single activity, one item of a foreach, or
// one turn of a while loop.
const (
	ScopeNone = ""
	ScopeItem = "item"
	ScopeTurn = "turn"
)

// ActivityID is the id of the activity that runs step (in scope, at index)
// on runtime rt: "<step>@<rt>", "<step>#<item>@<rt>" or "<step>~<turn>@<rt>".
// call, when set, names one call of a reason step's agent loop ("t2" for
// the model's second turn, "t2.1" for the first tool it asked for then):
// "<step>[#item]:<call>@<rt>".
func ActivityID(step, scope string, index int, call, rt string) string {
	id := step
	switch scope {
	case ScopeItem:
		id += "#" + strconv.Itoa(index)
	case ScopeTurn:
		id += "~" + strconv.Itoa(index)
	}
	if call != "" {
		id += ":" + call
	}
	return id + "@" + rt
}

// ParseActivityID reads an id written by ActivityID. known says whether a
// step id exists, so that a step named like "a#1" is not split. ok is false
// for ids the interpreter did not write.
func ParseActivityID(id string, known func(step string) bool) (step, scope string, index int, rt string, ok bool) {
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return "", "", 0, "", false
	}
	head, rt := id[:at], id[at+1:]
	if c := strings.IndexByte(head, ':'); c >= 0 {
		head = head[:c] // an agent-loop call; step ids have no ':'
	}
	if known(head) {
		return head, ScopeNone, 0, rt, true
	}
	k := strings.LastIndexAny(head, "#~")
	if k < 0 {
		return "", "", 0, rt, false
	}
	n, err := strconv.Atoi(head[k+1:])
	if err != nil || !known(head[:k]) {
		return "", "", 0, rt, false
	}
	scope = ScopeItem
	if head[k] == '~' {
		scope = ScopeTurn
	}
	return head[:k], scope, n, rt, true
}

// RuntimeOfQueue is the runtime a task queue written by RuntimeQueue
// serves: the part after the prefix ("tars.wasm" -> "wasm").
func RuntimeOfQueue(queue string) string {
	if i := strings.LastIndexByte(queue, '.'); i >= 0 {
		return queue[i+1:]
	}
	return queue
}

// Terminal reports whether a step status is final: the step will not run
// again in this run.
func Terminal(status string) bool {
	switch status {
	case StatusOK, StatusFailed, StatusSkipped, StatusHandled, StatusCanceled:
		return true
	}
	return false
}

// ShardID is the workflow id of shard k of a foreach step run in shards
// (shard.go): "<run>/<step>/shard-<k>".
func ShardID(run, step string, k int) string {
	return run + "/" + step + "/shard-" + strconv.Itoa(k)
}

// ParseShardID reads an id written by ShardID: the step and the shard's
// number. ok is false for other ids.
func ParseShardID(id string) (step string, k int, ok bool) {
	i := strings.LastIndex(id, "/shard-")
	if i < 0 {
		return "", 0, false
	}
	k, err := strconv.Atoi(id[i+len("/shard-"):])
	if err != nil || k < 0 {
		return "", 0, false
	}
	head := id[:i]
	j := strings.LastIndexByte(head, '/')
	if j < 0 || j == len(head)-1 {
		return "", 0, false
	}
	return head[j+1:], k, true
}
