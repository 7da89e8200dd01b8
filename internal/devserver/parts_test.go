package devserver

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log/tag"
)

// Catches a key renamed or removed by a server upgrade: the server would
// ignore it silently.
func TestTunedDynamicConfigKeysExist(t *testing.T) {
	require.NoError(t, checkDynamicConfig(TunedDynamicConfig()))
}

func TestBuildDynamicConfig(t *testing.T) {
	rps := dynamicconfig.MakeKey("history.transferProcessorMaxPollRPS")
	for _, tc := range []struct {
		name      string
		tuned     bool
		overrides map[string]any
		want      any // value of rps; nil: not set
		wantErr   string
	}{
		{name: "untuned is Temporal's defaults", want: nil},
		{name: "tuned", tuned: true, want: 10_000},
		{name: "override wins, any case", tuned: true, overrides: map[string]any{"History.TransferProcessorMaxPollRPS": 50}, want: 50},
		{name: "override without tuning", overrides: map[string]any{"history.transferProcessorMaxPollRPS": 70}, want: 70},
		{name: "duration override", overrides: map[string]any{"history.timerProcessorUpdateAckInterval": time.Second}},
		{name: "unknown key", overrides: map[string]any{"history.noSuchSetting": 1}, wantErr: "unregistered key"},
		{name: "bad value", overrides: map[string]any{"history.transferProcessorMaxPollRPS": "fast"}, wantErr: "history.transferProcessorMaxPollRPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc, err := buildDynamicConfig(tc.tuned, tc.overrides)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			got := dc.GetValue(rps)
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, tc.want, got[0].Value)
		})
	}
}

func TestParseLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"":        slog.LevelWarn,
		"debug":   slog.LevelDebug,
		"INFO":    slog.LevelInfo,
		"warn":    slog.LevelWarn,
		"warning": slog.LevelWarn,
		"error":   slog.LevelError,
	} {
		got, err := parseLogLevel(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parseLogLevel("loud")
	assert.ErrorContains(t, err, `"loud"`)
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", o.IP)
	assert.Equal(t, "127.0.0.1", o.UIIP)
	assert.Equal(t, 0, o.Port, "0 stays: Start picks a free port")
	assert.Equal(t, "default", o.Namespace)
	assert.Equal(t, "warn", o.LogLevel)
	assert.NotNil(t, o.Logger)

	o, err = Options{IP: "0.0.0.0"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0", o.UIIP, "UI follows the frontend's IP")
}

func TestDialAddr(t *testing.T) {
	assert.Equal(t, "127.0.0.1:7233", dialAddr("127.0.0.1", 7233))
	assert.Equal(t, "127.0.0.1:7233", dialAddr("0.0.0.0", 7233))
	assert.Equal(t, "[::1]:7233", dialAddr("::", 7233))
	assert.Equal(t, "10.1.2.3:7233", dialAddr("10.1.2.3", 7233))
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort("127.0.0.1")
		require.NoError(t, err)
		assert.False(t, seen[p], "port %d returned twice", p)
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		require.NoError(t, err, "port %d is not free", p)
		require.NoError(t, l.Close())
	}
}

func TestCheckPortsRejectsDuplicates(t *testing.T) {
	p, err := FreePort("127.0.0.1")
	require.NoError(t, err)
	err = checkPorts([]portClaim{{"frontend", "127.0.0.1", p}, {"UI", "127.0.0.1", p}})
	assert.ErrorContains(t, err, "frontend and UI would both listen on")
}

// captured records what reaches slog.
type captured struct{ records []slog.Record }

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	c.records = append(c.records, r)
	return nil
}
func (c *captured) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captured) WithGroup(string) slog.Handler      { return c }

func TestServerLogFiltersByLevel(t *testing.T) {
	h := &captured{}
	l := newServerLog(slog.New(h), slog.LevelWarn)

	l.Debug("dropped")
	l.Info("dropped")
	l.Warn("kept", tag.NewStringTag("queue", "tars.native"))
	l.With(tag.NewInt("shard", 1)).Error("kept too")
	l.Fatal("logged, process goes on")
	l.Error("dropped: a worker stopped its poll", tag.Error(context.Canceled))
	l.SLog().Info("dropped")
	l.SLog().Warn("kept through slog")

	var msgs []string
	for _, r := range h.records {
		msgs = append(msgs, r.Message)
	}
	assert.Equal(t, []string{"kept", "kept too", "logged, process goes on", "kept through slog"}, msgs)
	attrs := map[string]any{}
	h.records[0].Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	assert.Equal(t, "tars.native", attrs["queue"])
}

func TestUICodecEndpointIsChecked(t *testing.T) {
	_, err := Options{UICodecEndpoint: "http://127.0.0.1:8081"}.withDefaults()
	require.NoError(t, err)
	for _, bad := range []string{"127.0.0.1:8081", "ftp://codec", "http://"} {
		_, err := Options{UICodecEndpoint: bad}.withDefaults()
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "want an http:// or https:// URL")
	}
}
