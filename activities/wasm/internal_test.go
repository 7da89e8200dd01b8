package wasm

import (
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapacityFollowsTheMemoryBudget(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		name              string
		budgetMiB, memMiB int
		want              int
	}{
		{"memory bound", 1024, 64, min(5, 4*procs)}, // 1 GiB / 192 MiB
		{"big limits", 8192, 1024, min(7, 4*procs)}, // 8 GiB / 1152 MiB
		{"never below one", 50, 64, 1},
		{"plenty of memory: 4 per core", 1 << 20, 64, 4 * procs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{MemoryBudgetMiB: tt.budgetMiB, DefaultMemoryMiB: tt.memMiB}.withDefaults()
			assert.Equal(t, tt.want, c.Capacity)
		})
	}
	assert.Positive(t, Config{}.withDefaults().MemoryBudgetMiB)

	// A worker's memory ceiling below the default lowers the default.
	c := Config{MaxMemoryMiB: 32}.withDefaults()
	assert.Equal(t, []int{32, 32}, []int{c.DefaultMemoryMiB, c.MaxMemoryMiB})
	c = Config{MaxMemoryMiB: 512}.withDefaults()
	assert.Equal(t, []int{64, 512}, []int{c.DefaultMemoryMiB, c.MaxMemoryMiB})
}

func TestTrapText(t *testing.T) {
	tests := []struct {
		name, text, what, where string
	}{
		{
			name:  "unreachable in main",
			text:  "wasm error: unreachable\nwasm stack trace:\n\t.__original_main() i32\n\t._start()\n\t._start.command_export()",
			what:  "unreachable",
			where: " at main, called from _start < _start.command_export",
		},
		{
			name:  "DWARF lines are skipped",
			text:  "wasm error: integer divide by zero\nwasm stack trace:\n\t.div(i32,i32) i32\n\t  0x2a: /src/div.c:3:10\n\t.main() i32",
			what:  "integer divide by zero",
			where: " at div, called from main",
		},
		{
			name: "stack overflow has no stack",
			text: "wasm error: stack overflow",
			what: "stack overflow",
		},
		{
			name:  "host function panic",
			text:  "tars.log: range [9, 9+100) is outside memory (recovered by wazero)\nwasm stack trace:\n\ttars.log(i32,i32)\n\t.main() i32",
			what:  "tars.log: range [9, 9+100) is outside memory",
			where: " at tars.log, called from main",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			what, where := trap(errors.New(tt.text))
			assert.Equal(t, tt.what, what)
			assert.Equal(t, tt.where, where)
		})
	}
}

func TestLogWriter(t *testing.T) {
	w := logWriter{max: 10}
	for range 100 {
		_, _ = w.Write([]byte("0123456789abcdefghij\n"))
	}
	assert.Equal(t, "0123456789\n[tars: log truncated, 2090 more bytes dropped]", w.String())
	assert.Equal(t, tailMax, w.tailLen)
	assert.Contains(t, w.Tail(), "abcdefghij")
	w.reset()
	_, _ = w.Write([]byte("short\n"))
	assert.Equal(t, "short\n", w.String())
	assert.Equal(t, "short", w.Tail())
}

func TestLinearMemory(t *testing.T) {
	m := &linearMemory{limit: 4 * wasmPageSize}
	lm := m.Allocate(wasmPageSize, 65536*wasmPageSize)
	buf := lm.Reallocate(wasmPageSize)
	require.Len(t, buf, wasmPageSize)
	buf[0] = 1
	buf = lm.Reallocate(3 * wasmPageSize)
	require.Len(t, buf, 3*wasmPageSize)
	assert.Equal(t, byte(1), buf[0], "grow keeps contents")
	assert.Nil(t, lm.Reallocate(5*wasmPageSize), "past the limit")
	assert.True(t, m.refused)
	assert.LessOrEqual(t, cap(buf), 4*wasmPageSize, "never holds more than the limit")
	lm.Free()

	over := &linearMemory{limit: wasmPageSize}
	buf = over.Allocate(2*wasmPageSize, 2*wasmPageSize).Reallocate(2 * wasmPageSize)
	assert.Len(t, buf, 2*wasmPageSize, "the initial size is never refused")
	assert.True(t, over.over)
}
