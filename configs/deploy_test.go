package configs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The shipped deployment recipes parse and start the worker the way the
// CLI expects; a typo in a flag or a manifest fails here, not in a cluster.
func TestDeployRecipes(t *testing.T) {
	b, err := os.ReadFile("deploy/kubernetes/workers.yaml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var kinds []string
	pools := map[string][]string{}
	for {
		var doc struct {
			Kind     string                `yaml:"kind"`
			Metadata struct{ Name string } `yaml:"metadata"`
			Spec     struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		kinds = append(kinds, doc.Kind)
		for _, c := range doc.Spec.Template.Spec.Containers {
			require.GreaterOrEqual(t, len(c.Args), 3, doc.Metadata.Name)
			assert.Equal(t, "worker", c.Args[0])
			assert.Equal(t, "--pools", c.Args[1])
			pools[doc.Metadata.Name] = strings.Split(c.Args[2], ",")
		}
	}
	assert.Equal(t, []string{"ConfigMap", "Deployment", "Deployment", "Deployment"}, kinds)
	assert.Equal(t, map[string][]string{"tars-native": {"native", "wasm"}, "tars-hyperlight": {"hyperlight"}, "tars-cuda": {"cuda"}}, pools)

	unit, err := os.ReadFile("deploy/tars-worker.service")
	require.NoError(t, err)
	assert.Contains(t, string(unit), "ExecStart=/usr/local/bin/tars worker\n")
	assert.Contains(t, string(unit), "SupplementaryGroups=kvm")
}
