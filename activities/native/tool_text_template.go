package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"text/template"

	"github.com/tars-engine/tars/activities"
)

type templateArgs struct {
	Template *string         `json:"template"`
	Data     json.RawMessage `json:"data"`
}

// templateFuncs are the few functions templates get beyond text/template's
// own; anything cleverer belongs in a ${...} expression.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := marshal(v)
		return string(b), err
	},
	"join":  func(sep string, list []any) string { return strings.Join(stringsOf(list), sep) },
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"trim":  strings.TrimSpace,
}

var errTemplateTooLarge = errors.New("template output too large")

// runTextTemplate renders args.template with args.data and returns
// {"text": ...}. A key missing from the data is an error, not "<no value>".
func (r *Runner) runTextTemplate(_ context.Context, call activities.Call) (activities.Result, error) {
	const tool = "text.template"
	var args templateArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Template == nil {
		return activities.Result{}, badArgs(tool, `"template" is required`)
	}
	name := call.Step
	if name == "" {
		name = tool
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(*args.Template)
	if err != nil {
		return activities.Result{}, badArgs(tool, "%v", err)
	}
	var data any
	if args.Data != nil {
		dec := json.NewDecoder(bytes.NewReader(args.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return activities.Result{}, badArgs(tool, "data: %v", err)
		}
		data = templateValue(data)
	}
	w := &cappedBuffer{max: r.cfg.OutputMaxBytes}
	if err := tmpl.Execute(w, data); err != nil {
		if errors.Is(err, errTemplateTooLarge) {
			return activities.Result{}, tooLarge(tool, "the rendered text is over %d bytes (Config.OutputMaxBytes)", r.cfg.OutputMaxBytes)
		}
		return activities.Result{}, badArgs(tool, "%v", err)
	}
	return output(tool, map[string]string{"text": w.String()})
}

// templateValue turns JSON numbers into int64 where they are integers and
// float64 otherwise, so that {{.n}} prints 1000000 rather than 1e+06 and
// {{if gt .n 5}} compares numbers rather than strings.
func templateValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = templateValue(e)
		}
	case []any:
		for i, e := range v {
			v[i] = templateValue(e)
		}
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	}
	return v
}

func stringsOf(list []any) []string {
	ss := make([]string, len(list))
	for i, v := range list {
		if s, ok := v.(string); ok {
			ss[i] = s
			continue
		}
		b, _ := marshal(v)
		ss[i] = string(b)
	}
	return ss
}

// cappedBuffer is a buffer that refuses to grow past max bytes. It has no
// WriteString, so no writer can go around the cap.
type cappedBuffer struct {
	buf bytes.Buffer
	max int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.buf.Len()+len(p)) > b.max {
		return 0, errTemplateTooLarge
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) String() string { return b.buf.String() }
