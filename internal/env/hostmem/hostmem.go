// Package hostmem reads how much memory this host has and sizes the
// sandboxed pools (wasm, hyperlight) from it: one parser of /proc/meminfo
// and one rule for how many calls fit, used by both pools and by
// internal/env's report. It is a leaf: it imports nothing of TARS.
package hostmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// Fallback is what Available assumes where /proc/meminfo cannot be read
// (not Linux): 2 GiB.
const Fallback = 2 << 30

// Parse reads MemTotal and MemAvailable (bytes) from the text of
// /proc/meminfo; a field that is missing is 0.
func Parse(data []byte) (total, available uint64) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		kib, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "MemTotal:":
			total = kib << 10
		case "MemAvailable:":
			available = kib << 10
		}
	}
	return total, available
}

// Available is MemAvailable of this host in bytes, or Fallback. It reads
// /proc/meminfo on every call.
func Available() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return Fallback
	}
	if _, avail := Parse(data); avail > 0 {
		return avail
	}
	return Fallback
}

// Budget is the memory a sandboxed pool may give its calls by default:
// half of avail, so that the worker, the Temporal SDK and the rest of the
// host keep the other half.
func Budget(avail uint64) uint64 { return avail / 2 }

// Slots is how many calls of perCall bytes each fit in budget bytes, within
// [1, 4 × procs]: sandboxed calls are CPU-bound, and more than four per
// core would only queue inside the process instead of in Temporal.
func Slots(budget, perCall uint64, procs int) int {
	n := 0
	if perCall > 0 {
		n = int(min(budget/perCall, 1<<20))
	}
	return max(1, min(n, 4*procs))
}
