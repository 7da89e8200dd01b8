package devserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/common/dynamicconfig"
)

// Worker Versioning's settings exist in this server and apply tuned or
// not; an override still wins over them.
func TestVersioningDynamicConfig(t *testing.T) {
	require.NoError(t, checkDynamicConfig(VersioningDynamicConfig()))
	key := dynamicconfig.MakeKey("system.enableDeploymentVersions")
	for _, tuned := range []bool{false, true} {
		dc, err := buildDynamicConfig(tuned, nil)
		require.NoError(t, err)
		got := dc.GetValue(key)
		require.Len(t, got, 1, "tuned=%v", tuned)
		assert.Equal(t, true, got[0].Value, "tuned=%v", tuned)
	}
	dc, err := buildDynamicConfig(true, map[string]any{"System.EnableDeploymentVersions": false})
	require.NoError(t, err)
	got := dc.GetValue(key)
	require.Len(t, got, 1)
	assert.Equal(t, false, got[0].Value)
}
