package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionStringNamesModuleAndCommit(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.25.0",
		Main:      debug.Module{Path: "github.com/tars-engine/tars", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "70b850c0123456789abcdef0123456789abcdef0"},
			{Key: "vcs.modified", Value: "true"},
			{Key: "vcs.time", Value: "2026-12-02T10:00:00Z"},
		},
	}
	assert.Equal(t, "v0.3.0 commit 70b850c01234+dirty (2026-12-02T10:00:00Z) go1.25.0", versionString("", bi, true))

	bi.Settings[1].Value = "false"
	assert.Equal(t, "v0.3.0 commit 70b850c01234 (2026-12-02T10:00:00Z) go1.25.0", versionString("", bi, true))

	none := &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "(devel)"}}
	assert.Contains(t, versionString("", none, true), "(devel) (no commit recorded")
	assert.Equal(t, "v9", versionString("v9", bi, true), "-ldflags -X main.version wins")
	assert.NotEqual(t, "dev", buildVersion())
}
