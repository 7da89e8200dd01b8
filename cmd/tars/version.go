package main

import (
	"runtime/debug"
	"strings"
)

// version may be set at build time with -ldflags "-X main.version=...";
// when it is not, versionString reads the module version and the VCS
// stamp Go writes into the binary.
var version = ""

// versionString is what tars --version prints: the module version, the
// commit (with "+dirty" when the work tree had changes) and the Go
// version. Built with -buildvcs=false (or outside a repository) there is no
// commit to name, and it says so.
func versionString(override string, bi *debug.BuildInfo, ok bool) string {
	if override != "" {
		return override
	}
	if !ok || bi == nil {
		return "unknown (no build information in the binary)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	var b strings.Builder
	b.WriteString(v)
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		b.WriteString(" commit " + rev)
		if modified == "true" {
			b.WriteString("+dirty")
		}
		if at != "" {
			b.WriteString(" (" + at + ")")
		}
	} else {
		b.WriteString(" (no commit recorded: built with -buildvcs=false or outside a git checkout)")
	}
	if bi.GoVersion != "" {
		b.WriteString(" " + bi.GoVersion)
	}
	return b.String()
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return versionString(version, bi, ok)
}
