package workers

import (
	"context"
	"log/slog"
)

type stepKey struct{}

// withStep returns ctx carrying a step's identity for StepAttrs.
func withStep(ctx context.Context, attrs []slog.Attr) context.Context {
	return context.WithValue(ctx, stepKey{}, attrs)
}

// StepAttrs wraps a handler so that a record logged with the context of a
// pool's call carries that call's run_id, step and runtime (and tool,
// attempt), even when the code that logs it (a runner, a tool) knows
// none of them. Attributes the record already has are not repeated.
func StepAttrs(h slog.Handler) slog.Handler { return stepHandler{h} }

type stepHandler struct{ slog.Handler }

func (h stepHandler) Handle(ctx context.Context, r slog.Record) error {
	attrs, _ := ctx.Value(stepKey{}).([]slog.Attr)
	if len(attrs) > 0 {
		have := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool { have[a.Key] = true; return true })
		for _, a := range attrs {
			if !have[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h stepHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return stepHandler{h.Handler.WithAttrs(a)}
}

func (h stepHandler) WithGroup(n string) slog.Handler { return stepHandler{h.Handler.WithGroup(n)} }
