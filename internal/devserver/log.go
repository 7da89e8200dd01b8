package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// parseLogLevel reads the LogLevel option: "debug", "info", "warn" (or
// "warning") and "error", in any case; "" means "warn".
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return slog.LevelWarn, nil
	case "warning":
		return slog.LevelWarn, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// serverLog adapts the Temporal server's logger interface to slog. The server
// is chatty below warn, so records below level are dropped before any tag is
// rendered: a disabled record costs one comparison.
type serverLog struct {
	log   *slog.Logger
	level *slog.LevelVar // shared by every logger derived with With
}

var (
	_ log.Logger      = serverLog{}
	_ log.WithLogger  = serverLog{}
	_ log.SLogWrapper = serverLog{}
)

func newServerLog(l *slog.Logger, level slog.Level) serverLog {
	v := &slog.LevelVar{}
	v.Set(level)
	return serverLog{log: l.With("component", "temporal-server"), level: v}
}

// quietDown raises the level to errors only. A stopping server's own system
// workers warn about every poll cut short, and late goroutines about dials
// to services already gone: noise, not news.
func (s serverLog) quietDown() {
	if s.level.Level() < slog.LevelError {
		s.level.Set(slog.LevelError)
	}
}

func (s serverLog) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLog) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLog) Warn(msg string, tags ...tag.Tag) {
	if strings.HasPrefix(msg, noHTTPAPIWarning) {
		// The HTTP API is off by default on purpose (Options.HTTPPort); the
		// server's warning about it would greet every tars dev.
		return
	}
	s.emit(slog.LevelWarn, msg, tags)
}

// noHTTPAPIWarning starts the server's warning when it has no HTTP port.
const noHTTPAPIWarning = "HTTP API port has not been set."

func (s serverLog) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors and nothing more: a fault inside
// the embedded server must not take down the process that embeds it (tars dev
// also runs the worker pools).
func (s serverLog) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLog) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s serverLog) Fatal(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

// With renders the tags once, instead of on every record as the server's
// generic fallback would.
func (s serverLog) With(tags ...tag.Tag) log.Logger {
	if len(tags) == 0 {
		return s
	}
	args := make([]any, len(tags))
	for i, t := range tags {
		args[i] = tagAttr(t)
	}
	return serverLog{log: s.log.With(args...), level: s.level}
}

// SLog lets server code that logs through slog directly reach the same
// destination, still filtered at level.
func (s serverLog) SLog() *slog.Logger {
	return slog.New(minLevelHandler{Handler: s.log.Handler(), min: s.level})
}

func (s serverLog) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < s.level.Level() || !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = tagAttr(t)
		if callerLeft(attrs[i]) {
			return
		}
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

// callerLeft reports an error tag that only says the caller went away. The
// server logs, at error level, every long poll that a worker cancels when it
// stops, and every call cut short while the server stops: routine events in
// a dev session, where pools come and go.
func callerLeft(a slog.Attr) bool {
	return a.Key == "error" && a.Value.Kind() == slog.KindString && a.Value.String() == context.Canceled.Error()
}

func tagAttr(t tag.Tag) slog.Attr {
	return slog.Any(t.Key(), t.Value())
}

// minLevelHandler drops records below min before they reach the handler.
type minLevelHandler struct {
	slog.Handler
	min slog.Leveler
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min.Level() && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
