package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/internal/blobstore"
)

func TestStoreFlagsResolve(t *testing.T) {
	var s storeFlags
	require.NoError(t, s.resolve(nil))
	assert.EqualValues(t, blobstore.DefaultThreshold, s.thresholdBytes, "on by default at 256 KiB")
	assert.EqualValues(t, blobstore.DefaultMaxBlob, s.maxBlobBytes)

	t.Setenv("TARS_STORE_THRESHOLD", "off")
	s = storeFlags{}
	require.NoError(t, s.resolve(&storeConfig{Threshold: "64KiB"}))
	assert.True(t, s.off(), "the environment wins over the config file")

	s = storeFlags{threshold: "64KiB"}
	require.NoError(t, s.resolve(nil))
	assert.EqualValues(t, 64<<10, s.thresholdBytes, "a flag wins over the environment")

	for _, bad := range []struct {
		s    storeFlags
		want string
	}{
		{storeFlags{threshold: "lots"}, "--store-threshold"},
		{storeFlags{threshold: "3MiB"}, "must be under the server's 2 MiB"},
		{storeFlags{maxBlob: "0"}, "--store-max-value"},
		{storeFlags{s3: blobstore.S3Config{Endpoint: "http://127.0.0.1:9000"}}, "need --store-s3-bucket"},
		{storeFlags{dir: "/tmp/x", s3: blobstore.S3Config{Bucket: "b"}}, "choose one store"},
	} {
		s := bad.s
		assert.ErrorContains(t, s.resolve(nil), bad.want)
	}
}

func TestOutputTextPreview(t *testing.T) {
	assert.Equal(t, "short", outputText("short", false))
	assert.Equal(t, `{"a":1}`, outputText(map[string]any{"a": 1}, false))
	long := strings.Repeat("é", 2000) // 4,000 bytes, two per rune
	got := outputText(long, false)
	assert.True(t, strings.HasPrefix(got, "[3.9 KiB] "), got)
	assert.Contains(t, got, "--full")
	assert.Less(t, len(got), 400)
	assert.NotContains(t, got, "\uFFFD", "cut on a rune boundary")
	assert.Equal(t, long, outputText(long, true))
}
