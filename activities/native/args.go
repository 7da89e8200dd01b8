package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tars-engine/tars/activities"
)

// decodeArgs decodes a call's args into v, a pointer to a struct with json
// tags. Unknown fields are refused: a misspelt "timout" must not quietly
// run with the default timeout. Empty args decode as {}.
func decodeArgs(tool string, raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if raw[0] != '{' {
		return badArgs(tool, "args must be an object of %s", fieldList(v))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badArgs(tool, "%s", describeDecodeError(err, v))
	}
	return nil
}

// describeDecodeError turns encoding/json's messages, which name Go types,
// into ones that name the metascript's fields.
func describeDecodeError(err error, v any) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field") {
		return fmt.Sprintf("%s; the tool takes %s", msg, fieldList(v))
	}
	return msg
}

// fieldList names the JSON fields of the struct v points to.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "fields"
	}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// jsonKind names a Go type the way a metascript author sees it.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[duration]() {
		return `a duration string such as "250ms"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// duration is a time.Duration written in args as a Go duration string,
// "250ms" or "1m30s". Negative durations are refused.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`a duration must be a string such as "250ms" or "1m30s", not %s`, b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`duration %q: want a number and a unit such as "250ms", "10s" or "1m30s"`, s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = duration(v)
	return nil
}

// marshal encodes v as compact JSON without escaping <, > and &.
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// The constructors below prefix every message with the tool's name, so a
// failure in the Web UI says which tool refused and why.

func badArgs(tool, format string, a ...any) error {
	return activities.NonRetryable(activities.ErrBadArgs, nil, "%s: %s", tool, fmt.Sprintf(format, a...))
}

func refused(tool, format string, a ...any) error {
	return activities.NonRetryable(activities.ErrPolicyRefused, nil, "%s: %s", tool, fmt.Sprintf(format, a...))
}

func tooLarge(tool, format string, a ...any) error {
	return activities.NonRetryable(activities.ErrOutputTooLarge, nil, "%s: %s", tool, fmt.Sprintf(format, a...))
}

func failed(tool string, cause error, format string, a ...any) error {
	return activities.Retryable(activities.ErrToolFailed, cause, "%s: %s", tool, fmt.Sprintf(format, a...))
}
