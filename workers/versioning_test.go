package workers

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func TestBuildID(t *testing.T) {
	a := BuildID("v0.3.0", []string{"sha256:aa", "sha256:bb"})
	assert.Regexp(t, `^v0\.3\.0-[0-9a-f]{12}$`, a)
	assert.Equal(t, a, BuildID("v0.3.0", []string{"sha256:bb", "sha256:aa", "sha256:aa"}), "order and repeats do not matter")
	assert.NotEqual(t, a, BuildID("v0.3.0", []string{"sha256:aa"}), "a Plan more or less is a new build")
	assert.NotEqual(t, a, BuildID("v0.3.0", []string{"sha256:aa", "sha256:bc"}), "a changed Plan is a new build")
	assert.NotEqual(t, a, BuildID("v0.3.1", []string{"sha256:aa", "sha256:bb"}), "a new binary is a new build")
	assert.NotEqual(t, BuildID("v1", []string{"a", "b"}), BuildID("v1", []string{"a\x00b"}), "the parts are delimited")
	assert.NotEqual(t, BuildID("v1", []string{"1:a"}), BuildID("v1", []string{"1", "a"}), "the parts are delimited")

	valid := regexp.MustCompile(`^[A-Za-z0-9._+-]+-[0-9a-f]{12}$`)
	for in, label := range map[string]string{
		"":                           "dev",
		"(devel)":                    "devel",
		"70b850c01234+dirty.1a2b3c":  "70b850c01234+dirty.1a2b3c",
		"v1.2.3 commit abc (2026)":   "v1.2.3-commit-abc-2026",
		"__sneaky":                   "sneaky",
		strings.Repeat("x", 100):     strings.Repeat("x", 40),
		"v0.0.0-20261202-70b850c012": "v0.0.0-20261202-70b850c012",
	} {
		id := BuildID(in, nil)
		assert.True(t, strings.HasPrefix(id, label+"-"), "%q -> %q, want label %q", in, id, label)
		assert.Regexp(t, valid, id)
		assert.LessOrEqual(t, len(id), 53)
	}
}

func TestVersioningOptions(t *testing.T) {
	var o worker.Options
	require.NoError(t, (*Versioning)(nil).apply(&o), "nil: unversioned")
	assert.False(t, o.DeploymentOptions.UseVersioning)

	v := &Versioning{DeploymentName: "tars", BuildID: "v1-abc"}
	require.NoError(t, v.apply(&o))
	assert.Equal(t, worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: "tars", BuildID: "v1-abc"},
		DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
	}, o.DeploymentOptions)
	assert.Equal(t, "tars:v1-abc", v.String())
	assert.Equal(t, "pinned", v.BehaviorName())
	v.AutoUpgrade = true
	require.NoError(t, v.apply(&o))
	assert.Equal(t, workflow.VersioningBehaviorAutoUpgrade, o.DeploymentOptions.DefaultVersioningBehavior)
	assert.Equal(t, "auto-upgrade", v.BehaviorName())

	for _, tc := range []struct {
		v    Versioning
		want string
	}{
		{Versioning{BuildID: "b"}, "no deployment name"},
		{Versioning{DeploymentName: "tars.prod", BuildID: "b"}, `may not contain "." or ":"`},
		{Versioning{DeploymentName: "tars:prod", BuildID: "b"}, `may not contain "." or ":"`},
		{Versioning{DeploymentName: "tars"}, "no build id"},
		{Versioning{DeploymentName: "__tars", BuildID: "b"}, `may not start with "__"`},
		{Versioning{DeploymentName: "tars", BuildID: strings.Repeat("b", 256)}, "at most 255"},
	} {
		err := tc.v.apply(&worker.Options{})
		assert.ErrorContains(t, err, tc.want, "%+v", tc.v)
	}
}
