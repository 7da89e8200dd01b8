package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/workers"
)

func TestBuildIDVersion(t *testing.T) {
	exe := func() string { return "e5e5e5e5e5e5" }
	rev := "70b850c0123456789abcdef0123456789abcdef0"
	bi := func(v, modified string) *debug.BuildInfo {
		b := &debug.BuildInfo{Main: debug.Module{Version: v}}
		if modified != "" {
			b.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		override string
		bi       *debug.BuildInfo
		want     string
	}{
		{"ldflags win", "v9.9.9", bi("v0.3.0", "true"), "v9.9.9"},
		{"a release", "", bi("v0.3.0", "false"), "v0.3.0"},
		{"go install of a tag (no VCS stamp)", "", bi("v0.3.0", ""), "v0.3.0"},
		{"a clean checkout", "", bi("(devel)", "false"), "70b850c01234"},
		{"a dirty checkout is named by its binary", "", bi("(devel)", "true"), "70b850c01234+dirty.e5e5e5e5e5e5"},
		{"a dirty tagged build too", "", bi("v0.3.0", "true"), "70b850c01234+dirty.e5e5e5e5e5e5"},
		{"no commit recorded", "", bi("(devel)", ""), "devel+e5e5e5e5e5e5"},
	} {
		assert.Equal(t, tc.want, buildIDVersion(tc.override, tc.bi, true, exe), tc.name)
	}
	assert.Equal(t, "devel+e5e5e5e5e5e5", buildIDVersion("", nil, false, exe))
	assert.Regexp(t, `^[0-9a-f]{12}$`, executableDigest(), "the test binary hashes")
}

func TestVersioningFlagsResolve(t *testing.T) {
	t.Setenv("TARS_DEPLOYMENT_NAME", "")
	t.Setenv("TARS_BUILD_ID", "")
	t.Setenv("TARS_VERSIONING_BEHAVIOR", "")
	v, err := (&versioningFlags{}).resolve(nil, nil)
	require.NoError(t, err)
	assert.Nil(t, v, "no deployment name anywhere: unversioned")

	_, err = (&versioningFlags{buildID: "b1"}).resolve(nil, nil)
	assert.ErrorContains(t, err, "need a --deployment-name")

	v, err = (&versioningFlags{deploymentName: "tars"}).resolve(nil, []string{"sha256:1"})
	require.NoError(t, err)
	assert.Equal(t, workers.BuildID(binaryBuildVersion(), []string{"sha256:1"}), v.BuildID, "derived")
	assert.False(t, v.AutoUpgrade)

	tgt := &configs.Target{Versioning: &configs.Versioning{DeploymentName: "from-file", BuildID: "file-build", Behavior: configs.BehaviorAutoUpgrade}}
	v, err = (&versioningFlags{}).resolve(tgt, nil)
	require.NoError(t, err)
	assert.Equal(t, &workers.Versioning{DeploymentName: "from-file", BuildID: "file-build", AutoUpgrade: true}, v)

	t.Setenv("TARS_DEPLOYMENT_NAME", "from-env")
	v, err = (&versioningFlags{buildID: "flag-build", behavior: "pinned"}).resolve(tgt, nil)
	require.NoError(t, err)
	assert.Equal(t, &workers.Versioning{DeploymentName: "from-env", BuildID: "flag-build"}, v, "flags, then environment, then the file")

	_, err = (&versioningFlags{behavior: "sticky"}).resolve(tgt, nil)
	assert.ErrorContains(t, err, `--versioning-behavior "sticky": want pinned or auto-upgrade`)
	_, err = (&versioningFlags{deploymentName: "a.b"}).resolve(nil, nil)
	assert.ErrorContains(t, err, `may not contain "." or ":"`)
}
