package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// PerfettoEvent is one Chrome trace event (the JSON Trace Event Format that
// ui.perfetto.dev and chrome://tracing open).
type PerfettoEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`            // "X" complete, "M" metadata, "i" instant
	TS   float64        `json:"ts"`            // µs since the run started
	Dur  *float64       `json:"dur,omitempty"` // µs, for "X"
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	S    string         `json:"s,omitempty"` // instant scope
	Args map[string]any `json:"args,omitempty"`
}

// PerfettoTrace is the file: {"traceEvents": [...], "displayTimeUnit": "ms"}.
type PerfettoTrace struct {
	TraceEvents     []PerfettoEvent `json:"traceEvents"`
	DisplayTimeUnit string          `json:"displayTimeUnit"`
	Metadata        map[string]any  `json:"metadata,omitempty"`
}

// Perfetto lays the trace out as Chrome trace events: one process per
// runtime whose threads are steps (activity attempts as slices, the queue
// wait before each as a "queued" slice), and one process per agent whose
// threads show its steps from start to end, with approvals and child runs.
// Concurrent slices of one step (foreach items) get one thread each, so
// that no two slices on a thread overlap. Hops are instant events. Child
// traces that were fetched are laid out after, under their own processes.
func Perfetto(t *Trace) *PerfettoTrace {
	pt := &PerfettoTrace{DisplayTimeUnit: "ms", Metadata: map[string]any{
		"metascript": t.Metascript, "workflow_id": t.WorkflowID, "run_id": t.RunID, "status": t.Status,
	}}
	l := &perfettoLayout{pt: pt, origin: t.Start, pids: map[string]int{}, lanes: map[laneKey][]time.Time{},
		bases: map[laneKey]int{}, names: map[int]int{}, tids: map[[2]int]bool{}}
	l.add(t, "")
	return pt
}

// WritePerfetto writes Perfetto(t) as JSON.
func WritePerfetto(w io.Writer, t *Trace) error {
	return json.NewEncoder(w).Encode(Perfetto(t))
}

type laneKey struct {
	pid  int
	name string
}

type perfettoLayout struct {
	pt     *PerfettoTrace
	origin time.Time
	pids   map[string]int
	nextID int
	lanes  map[laneKey][]time.Time // end time per lane (thread) of a name
	bases  map[laneKey]int
	names  map[int]int // thread names per process
	tids   map[[2]int]bool
}

func (l *perfettoLayout) pid(name string) int {
	if id, ok := l.pids[name]; ok {
		return id
	}
	l.nextID++
	id := l.nextID
	l.pids[name] = id
	l.pt.TraceEvents = append(l.pt.TraceEvents,
		PerfettoEvent{Name: "process_name", Ph: "M", PID: id, Args: map[string]any{"name": name}},
		PerfettoEvent{Name: "process_sort_index", Ph: "M", PID: id, Args: map[string]any{"sort_index": id}})
	return id
}

// tid finds a thread of name in pid that is free at start (slices are
// added in start order per name), making one if needed, and marks it busy
// until end.
func (l *perfettoLayout) tid(pid int, name string, start, end time.Time) int {
	k := laneKey{pid, name}
	lanes := l.lanes[k]
	lane := -1
	for i, busyUntil := range lanes {
		if !start.Before(busyUntil) {
			lane = i
			break
		}
	}
	if lane < 0 {
		lanes = append(lanes, end)
		lane = len(lanes) - 1
	} else {
		lanes[lane] = end
	}
	l.lanes[k] = lanes
	tid := l.laneBase(k) + lane
	tname := name
	if lane > 0 {
		tname = fmt.Sprintf("%s [%d]", name, lane+1)
	}
	l.thread(pid, tid, tname)
	return tid
}

func (l *perfettoLayout) thread(pid, tid int, name string) {
	if l.tids[[2]int{pid, tid}] {
		return
	}
	l.tids[[2]int{pid, tid}] = true
	l.pt.TraceEvents = append(l.pt.TraceEvents,
		PerfettoEvent{Name: "thread_name", Ph: "M", PID: pid, TID: tid, Args: map[string]any{"name": name}},
		PerfettoEvent{Name: "thread_sort_index", Ph: "M", PID: pid, TID: tid, Args: map[string]any{"sort_index": tid}})
}

// laneBase gives each thread name of a process a block of 1,000 thread
// ids, in the order names first appear.
func (l *perfettoLayout) laneBase(k laneKey) int {
	if b, ok := l.bases[k]; ok {
		return b
	}
	l.names[k.pid]++
	b := l.names[k.pid] * 1000
	l.bases[k] = b
	return b
}

func (l *perfettoLayout) us(t time.Time) float64 { return float64(t.Sub(l.origin).Nanoseconds()) / 1e3 }

func (l *perfettoLayout) slice(pid int, lane, name, cat string, start, end time.Time, args map[string]any) {
	if start.IsZero() {
		return
	}
	if end.Before(start) {
		end = start
	}
	tid := l.tid(pid, lane, start, end)
	dur := float64(end.Sub(start).Nanoseconds()) / 1e3
	l.pt.TraceEvents = append(l.pt.TraceEvents, PerfettoEvent{Name: name, Cat: cat, Ph: "X", TS: l.us(start), Dur: &dur, PID: pid, TID: tid, Args: args})
}

func (l *perfettoLayout) add(t *Trace, prefix string) {
	end := t.Start.Add(t.Duration.D())
	runPID := l.pid(prefix + "run " + t.Metascript)
	l.slice(runPID, "run", t.Metascript, "run", t.Start, end, map[string]any{
		"workflow_id": t.WorkflowID, "run_id": t.RunID, "status": t.Status, "events": t.Events, "error": t.Error,
	})
	steps := append([]*Step(nil), t.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Start.Before(steps[j].Start) })
	for _, s := range steps {
		agent := s.Agent
		if agent == "" {
			agent = "(no agent)"
		}
		if !s.Start.IsZero() {
			pid := l.pid(prefix + "agent " + agent)
			stepEnd := s.Start.Add(s.Duration.D())
			args := map[string]any{"status": s.Status, "kind": s.Kind, "runtime": s.Runtime, "attempts": s.Attempts,
				"failures": s.Failures, "department": s.Department, "team": s.Team, "event_id": s.EventID}
			if s.Error != "" {
				args["error"] = s.Error
			}
			if len(s.Hops) > 0 {
				args["hops"] = s.Hops
			}
			if s.Approval != nil {
				args["approval"] = s.Approval
			}
			l.slice(pid, s.ID, s.ID, "step", s.Start, stepEnd, args)
		}
		for _, a := range s.Activities {
			rt := a.Runtime
			if rt == "" {
				rt = a.TaskQueue
			}
			pid := l.pid(prefix + "runtime " + rt)
			args := map[string]any{
				"activity_id": a.ActivityID, "tool": a.Tool, "status": a.Status, "attempt": a.Attempt, "queue": a.TaskQueue,
				"worker": a.Identity, "input_bytes": a.InputBytes, "output_bytes": a.OutputBytes, "agent": s.Agent,
				"scheduled_event_id": a.ScheduledEventID,
			}
			for k, v := range a.Metrics {
				args["metric."+k] = v
			}
			if a.Failure != "" {
				args["failure"] = a.Failure
			}
			if a.LastFailure != "" {
				args["last_failure"] = a.LastFailure
			}
			if a.Started.IsZero() {
				// Never started (e.g. schedule-to-start timeout): the wait.
				closed := a.Closed
				if closed.IsZero() {
					closed = end
				}
				l.slice(pid, s.ID, a.ActivityID+" (not started)", "queued", a.Scheduled, closed, args)
				continue
			}
			// Queue wait and run on one lane, back to back.
			closed := a.Closed
			if closed.IsZero() {
				closed = end
			}
			tid := l.tid(pid, s.ID, a.Scheduled, closed)
			qd := float64(a.Started.Sub(a.Scheduled).Nanoseconds()) / 1e3
			rd := float64(closed.Sub(a.Started).Nanoseconds()) / 1e3
			l.pt.TraceEvents = append(l.pt.TraceEvents,
				PerfettoEvent{Name: "queued", Cat: "queued", Ph: "X", TS: l.us(a.Scheduled), Dur: &qd, PID: pid, TID: tid, Args: map[string]any{"activity_id": a.ActivityID}},
				PerfettoEvent{Name: fmt.Sprintf("%s (attempt %d)", a.ActivityID, a.Attempt), Cat: "activity", Ph: "X", TS: l.us(a.Started), Dur: &rd, PID: pid, TID: tid, Args: args})
		}
		for _, h := range s.Hops {
			pid := l.pid(prefix + "runtime " + h.From)
			tid := l.laneBase(laneKey{pid, s.ID})
			l.thread(pid, tid, s.ID)
			l.pt.TraceEvents = append(l.pt.TraceEvents, PerfettoEvent{
				Name: fmt.Sprintf("hop %s→%s", h.From, orNone(h.To)), Cat: "hop", Ph: "i", S: "t", TS: l.us(h.Time), PID: pid, TID: tid,
				Args: map[string]any{"step": h.Step, "reason": h.Reason, "event_id": h.EventID},
			})
		}
		if c := s.Child; c != nil && c.Trace != nil {
			l.add(c.Trace, prefix+"  ")
		}
	}
	for _, p := range t.Probes {
		pid := l.pid(prefix + "control")
		l.slice(pid, p.Tool, p.Tool+" (activity "+p.ActivityID+")", "probe", p.Scheduled, orTime(p.Closed, end),
			map[string]any{"status": p.Status, "queue": p.TaskQueue, "worker": p.Identity})
	}
}

func orTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}
