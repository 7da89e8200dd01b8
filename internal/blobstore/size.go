package blobstore

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a size in bytes: a number with an optional unit, B, KB,
// KiB, MB, MiB, GB or GiB (case-insensitive; "k", "m", "g" are the binary
// ones). "off" and "0" are 0.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if t == "off" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || t == "" {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (256KiB, 1MiB, 2MB) or off", s)
	}
	return int64(f * float64(mult)), nil
}
