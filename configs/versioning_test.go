package configs

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/internal/diag"
)

func TestTargetVersioning(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, DeploymentFile, `targets:
  - id: interp
    kind: service
    pools: {native: {capacity: 4}}
    versioning: {deployment_name: tars, behavior: auto-upgrade, build_id: hand-made-1}
  - id: plain
    kind: service
    pools: {native: {capacity: 4}}
`)
	c, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, &Versioning{DeploymentName: "tars", BuildID: "hand-made-1", Behavior: BehaviorAutoUpgrade}, c.Deployment.Target("interp").Versioning)
	assert.Nil(t, c.Deployment.Target("plain").Versioning, "no block: unversioned")
	for _, tg := range Default().Deployment.Targets {
		assert.Nil(t, tg.Versioning, "the shipped targets stay unversioned (%s)", tg.ID)
	}
}

func TestTargetVersioningFaults(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, DeploymentFile, `targets:
  - id: a
    kind: service
    pools: {native: {}}
    versioning: {deployment_name: tars.prod, behavior: pinnned}
  - id: b
    kind: service
    pools: {native: {}}
    versioning: {build_id: "__x", deploy: y}
`)
	_, err := Load(dir)
	var ds diag.Diagnostics
	require.True(t, errors.As(err, &ds), "want diagnostics, got %v", err)
	var got []string
	for _, d := range ds {
		got = append(got, filepath.Base(d.File)+":"+strconv.Itoa(d.Line)+":"+strconv.Itoa(d.Col)+": "+d.Msg)
	}
	assert.Equal(t, []string{
		`deployment.yaml:5:35: deployment_name "tars.prod" may not contain "." or ":" (Temporal reserves them)`,
		`deployment.yaml:5:56: behavior must be one of pinned, auto-upgrade, not "pinnned" (did you mean "pinned"?)`,
		`deployment.yaml:9:17: versioning needs a deployment_name`,
		`deployment.yaml:9:28: build_id "__x" must be non-empty and not start with "__"`,
		`deployment.yaml:9:35: unknown key "deploy" in versioning`,
	}, got)
}
