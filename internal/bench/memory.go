package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Peak resident memory comes from Linux's VmHWM ("high water mark") in
// /proc/<pid>/status, which counts everything the process maps, Go heap or
// not (SQLite's pages, the server's caches). Writing 5 to
// /proc/<pid>/clear_refs resets it to the current RSS (Linux 4.0+), so each
// sample measures its own peak. Elsewhere both return an error and the report
// leaves the column empty.

// ResetPeakRSS starts a new peak for process pid (0: this process).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(procPath(pid, "clear_refs"), []byte("5"), 0)
}

// PeakRSS returns the peak resident memory of process pid (0: this
// process) since it started or since ResetPeakRSS, in bytes.
func PeakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, "VmHWM:")
}

func procPath(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// parseStatusKB reads a "Key:   1234 kB" line of /proc/<pid>/status.
func parseStatusKB(status []byte, key string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, key))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %q", key, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}
