package trace

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// Divergence is the first point where replayed code and history disagree.
type Divergence struct {
	// EventID is the history event the replay could not match, 0 when the
	// code issued a command past the end of what the history recorded.
	EventID int64
	// EventType is that event's type, e.g. "ActivityTaskScheduled".
	EventType string
	// Expected is what the history recorded at that point.
	Expected string
	// Got is what the current code did instead.
	Got string
	// Message is the SDK's message (TMPRL1100).
	Message string
}

func (d *Divergence) Error() string {
	var b strings.Builder
	b.WriteString("nondeterminism")
	if d.EventID > 0 {
		fmt.Fprintf(&b, " at event %d", d.EventID)
	}
	if d.EventType != "" {
		fmt.Fprintf(&b, " (%s)", d.EventType)
	}
	fmt.Fprintf(&b, ": expected %s; got %s", d.Expected, d.Got)
	return b.String()
}

var (
	reMismatch = regexp.MustCompile(`(?s)nondeterministic workflow: history event is (\w+): (.*), replay command is (\w+): (.*)$`)
	reMissing  = regexp.MustCompile(`(?s)nondeterministic workflow: missing replay command for (\w+): (.*)$`)
	reExtra    = regexp.MustCompile(`(?s)nondeterministic workflow: extra replay command for (\w+): (.*)$`)
	reExpected = regexp.MustCompile(`a matching (\w+) command was expected in history event position (.*?)\. However`)
	reLookup   = regexp.MustCompile(`lookup failed for scheduledEventID to activityID: scheduleEventID: (\d+), activityID: (.*)$`)
	reField    = regexp.MustCompile(`(ActivityId|TimerId|MarkerName|WorkflowId|SignalName):([^,)]*)`)
	reTypeName = regexp.MustCompile(`(?:ActivityType|WorkflowType):\(Name:([^,)]*)\)`)
	reEventID  = regexp.MustCompile(`\bEventId:(\d+)`)
)

// parseDivergence reads the SDK's nondeterminism message and finds the
// history event it names. nil when err is not a nondeterminism error.
func parseDivergence(err error, events []*historypb.HistoryEvent, rec *recorder) *Divergence {
	msg := sdkMessage(err.Error())
	if !strings.Contains(msg, "TMPRL1100") {
		if strings.Contains(msg, "replay workflow doesn't return the same result as the last event") && len(events) > 0 {
			last := events[len(events)-1]
			return &Divergence{
				EventID: last.GetEventId(), EventType: last.GetEventType().String(),
				Expected: last.GetEventType().String(), Got: "a different ending: " + clip(msg, 300),
				Message: msg,
			}
		}
		return nil
	}
	d := &Divergence{Message: msg}
	switch {
	case reMismatch.MatchString(msg):
		m := reMismatch.FindStringSubmatch(msg)
		d.EventType, d.Got = m[1], describeCommand(m[3], m[4])
		d.EventID = findEvent(events, m[1], m[2])
		d.Expected = describeEvent(eventByID(events, d.EventID), m[1]+": "+m[2])
	case reMissing.MatchString(msg):
		m := reMissing.FindStringSubmatch(msg)
		d.EventType, d.Got = m[1], "no command (the code stopped short of it)"
		d.EventID = findEvent(events, m[1], m[2])
		d.Expected = describeEvent(eventByID(events, d.EventID), m[1]+": "+m[2])
	case reExtra.MatchString(msg):
		m := reExtra.FindStringSubmatch(msg)
		d.Expected, d.Got = "no further command (the history ends its workflow task here)", describeCommand(m[1], m[2])
	case reExpected.MatchString(msg):
		m := reExpected.FindStringSubmatch(msg)
		d.EventID, d.EventType, d.Expected, d.Got = commandAt(events, rec, m[1], m[2])
	case reLookup.MatchString(msg):
		m := reLookup.FindStringSubmatch(msg)
		d.EventID, d.EventType, d.Expected, d.Got = commandAt(events, rec, "Activity", strings.TrimSpace(m[2]))
	default:
		d.Expected, d.Got = "the recorded commands", clip(msg, 300)
	}
	d.Expected, d.Got = clip(d.Expected, 400), clip(d.Got, 400)
	return d
}

// sdkMessage pulls the failure message out of "replay workflow failed with
// failure: message:"..." source:..." (prototext), or returns s.
func sdkMessage(s string) string {
	i := strings.Index(s, `message:"`)
	if i < 0 {
		return s
	}
	rest := s[i+len(`message:`):]
	// Find the closing quote of the quoted string.
	for j := 1; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			if u, err := strconv.Unquote(rest[:j+1]); err == nil {
				return u
			}
			return rest[1:j]
		}
	}
	return s
}

// findEvent finds the event that the SDK printed as "<typ>: <attrs>": the
// one whose rendering matches exactly, else the first of that type whose
// ids match.
func findEvent(events []*historypb.HistoryEvent, typ, attrs string) int64 {
	if m := reEventID.FindStringSubmatch(attrs); m != nil && strings.HasPrefix(attrs, "(EventId:") {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	var candidates []*historypb.HistoryEvent
	for _, e := range events {
		if e.GetEventType().String() == typ {
			candidates = append(candidates, e)
		}
	}
	for _, e := range candidates {
		if eventAttrString(e) == attrs {
			return e.GetEventId()
		}
	}
	want := reField.FindAllStringSubmatch(attrs, -1)
	wantType := reTypeName.FindStringSubmatch(attrs)
	for _, e := range candidates {
		s := eventAttrString(e)
		ok := true
		for _, f := range want {
			if !strings.Contains(s, f[0]) {
				ok = false
				break
			}
		}
		if ok && wantType != nil && !strings.Contains(s, wantType[0]) {
			ok = false
		}
		if ok {
			return e.GetEventId()
		}
	}
	return 0
}

// commandAt describes a divergence the SDK names by a command kind and id:
// the history's event for it, and the call of the same kind and ordinal
// that the code made instead.
func commandAt(events []*historypb.HistoryEvent, rec *recorder, kind, id string) (int64, string, string, string) {
	eid, typ, ordinal := findByID(events, kind, id)
	expected := describeEvent(eventByID(events, eid), fmt.Sprintf("%s %s", kind, id))
	got := fmt.Sprintf("no %s command at this point", strings.ToLower(kind))
	if rec != nil && eid > 0 {
		if c, ok := rec.nth(kind, ordinal); ok {
			got = c
		}
	}
	return eid, typ, expected, got
}

var (
	reCmdActivity = regexp.MustCompile(`ActivityId:([^,)]*).*?ActivityType:\(Name:([^,)]*)\).*?TaskQueue:\(Name:([^,)]*)`)
	reCmdTimer    = regexp.MustCompile(`TimerId:([^,)]*)`)
	reCmdMarker   = regexp.MustCompile(`MarkerName:([^,)]*)`)
	reCmdChild    = regexp.MustCompile(`WorkflowId:([^,)]*).*?WorkflowType:\(Name:([^,)]*)\)`)
	// The SDK prints a command outside its switch whole, attributes as
	// proto text.
	reCmdChildText = regexp.MustCompile(`workflow_id:"([^"]*)"\s+workflow_type:\{name:"([^"]*)"\}`)
)

// describeCommand shortens the SDK's rendering of a command to what a
// reader compares: kind, type and ids.
func describeCommand(typ, attrs string) string {
	switch typ {
	case "ScheduleActivityTask":
		if m := reCmdActivity.FindStringSubmatch(attrs); m != nil {
			return fmt.Sprintf("ScheduleActivityTask %s (activity id %s, queue %s)", m[2], m[1], m[3])
		}
	case "StartTimer":
		if m := reCmdTimer.FindStringSubmatch(attrs); m != nil {
			return fmt.Sprintf("StartTimer (timer id %s)", m[1])
		}
	case "RecordMarker":
		if m := reCmdMarker.FindStringSubmatch(attrs); m != nil {
			return fmt.Sprintf("RecordMarker %s", m[1])
		}
	case "StartChildWorkflowExecution":
		if m := reCmdChild.FindStringSubmatch(attrs); m != nil {
			return fmt.Sprintf("StartChildWorkflowExecution %s (workflow id %s)", m[2], m[1])
		}
		if m := reCmdChildText.FindStringSubmatch(attrs); m != nil {
			return fmt.Sprintf("StartChildWorkflowExecution %s (workflow id %s)", m[2], m[1])
		}
	}
	return typ + ": " + clip(attrs, 200)
}

// describeEvent says what an event recorded, in the terms of
// describeCommand; fallback when e is nil.
func describeEvent(e *historypb.HistoryEvent, fallback string) string {
	if e == nil {
		return clip(fallback, 300)
	}
	typ := e.GetEventType().String()
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := e.GetActivityTaskScheduledEventAttributes()
		return fmt.Sprintf("%s %s (activity id %s, queue %s)", typ, a.GetActivityType().GetName(), a.GetActivityId(), a.GetTaskQueue().GetName())
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		a := e.GetTimerStartedEventAttributes()
		return fmt.Sprintf("%s %s (timer id %s)", typ, a.GetStartToFireTimeout().AsDuration(), a.GetTimerId())
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		a := e.GetMarkerRecordedEventAttributes()
		switch a.GetMarkerName() {
		case markerVersion:
			var id string
			_ = decodePayloads(a.GetDetails()[markerChangeID], &id)
			return fmt.Sprintf("%s Version (change id %s)", typ, id)
		case markerSideEffect:
			var h struct{ Step, From, To, Reason string }
			if decodePayloads(a.GetDetails()[markerDataKey], &h) == nil && h.Step != "" {
				return fmt.Sprintf("%s SideEffect (hop of step %s: %s→%s, %s)", typ, h.Step, h.From, orNone(h.To), h.Reason)
			}
		}
		return fmt.Sprintf("%s %s", typ, a.GetMarkerName())
	case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes()
		return fmt.Sprintf("%s %s (workflow id %s)", typ, a.GetWorkflowType().GetName(), a.GetWorkflowId())
	}
	return typ
}

func eventByID(events []*historypb.HistoryEvent, id int64) *historypb.HistoryEvent {
	if id <= 0 {
		return nil
	}
	if i := int(id - 1); i < len(events) && events[i].GetEventId() == id {
		return events[i]
	}
	for _, e := range events {
		if e.GetEventId() == id {
			return e
		}
	}
	return nil
}

// findByID finds the first event that a command of the SDK's kind with
// that id produced, and its ordinal among the events of its type.
func findByID(events []*historypb.HistoryEvent, kind, id string) (int64, string, int) {
	seen := map[enumspb.EventType]int{}
	for _, e := range events {
		var got string
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if kind == "Activity" {
				got = e.GetActivityTaskScheduledEventAttributes().GetActivityId()
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			if kind == "Timer" {
				got = e.GetTimerStartedEventAttributes().GetTimerId()
			}
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			if kind == "ChildWorkflow" {
				got = e.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId()
			}
		}
		if got != "" && got == id {
			return e.GetEventId(), e.GetEventType().String(), seen[e.GetEventType()]
		}
		seen[e.GetEventType()]++
	}
	return 0, "", 0
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// eventAttrString renders an event the way the SDK's
// util.HistoryEventToString does after "<type>: " (internal/common/util),
// so that a message can be matched to its event exactly.
func eventAttrString(e *historypb.HistoryEvent) string {
	var data any = e
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED, enumspb.EVENT_TYPE_TIMER_STARTED,
		enumspb.EVENT_TYPE_TIMER_FIRED, enumspb.EVENT_TYPE_TIMER_CANCELED,
		enumspb.EVENT_TYPE_MARKER_RECORDED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		if a := reflect.ValueOf(e.GetAttributes()); a.IsValid() && a.Kind() == reflect.Pointer && !a.IsNil() {
			data = a.Elem().Field(0).Interface()
		}
	}
	return anyToString(data)
}

var privateField = regexp.MustCompile("^[a-z]")

// anyToString and valueToString mirror the SDK's rendering.
func anyToString(d any) string {
	v := reflect.ValueOf(d)
	switch v.Kind() {
	case reflect.Pointer:
		return anyToString(v.Elem().Interface())
	case reflect.Struct:
		var buf bytes.Buffer
		t := reflect.TypeOf(d)
		buf.WriteString("(")
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.Kind() == reflect.Invalid || privateField.MatchString(t.Field(i).Name) {
				continue
			}
			fieldValue := valueToString(f)
			if len(fieldValue) == 0 {
				continue
			}
			if buf.Len() > 1 {
				buf.WriteString(", ")
			}
			buf.WriteString(fmt.Sprintf("%s:%s", t.Field(i).Name, fieldValue))
		}
		buf.WriteString(")")
		return buf.String()
	default:
		return fmt.Sprint(d)
	}
}

func valueToString(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		return valueToString(v.Elem())
	case reflect.Struct:
		if v.CanInterface() {
			return anyToString(v.Interface())
		}
	case reflect.Invalid:
		return ""
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Sprintf("[%v]", string(v.Bytes()))
		}
		return fmt.Sprintf("[len=%d]", v.Len())
	default:
		if v.CanInterface() {
			return fmt.Sprint(v.Interface())
		}
	}
	return ""
}
