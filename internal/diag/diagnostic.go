package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one fault at a position in a file. Line and Col are 1-based.
type Diagnostic struct {
	File string
	Line int
	Col  int
	Msg  string
}

// String formats the diagnostic as "file:line:col: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// Diagnostics is every fault found in one pass. It implements error.
type Diagnostics []Diagnostic

// Error prints one fault per line, sorted by file and position.
func (ds Diagnostics) Error() string {
	s := append(Diagnostics(nil), ds...)
	s.Sort()
	var b strings.Builder
	for i, d := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Sort orders the diagnostics by file, line and column; faults at one
// position keep the order in which they were found.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Err returns nil when there are no diagnostics, else the sorted list with
// duplicates (same position and message) removed.
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	s := append(Diagnostics(nil), ds...)
	s.Sort()
	out := s[:0]
	for i, d := range s {
		if i > 0 && d == s[i-1] {
			continue
		}
		out = append(out, d)
	}
	return out
}
