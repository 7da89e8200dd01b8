package blobstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tars-engine/tars/workflows"
)

// backends returns one of each Backend this package has, fresh.
func backends(t *testing.T) map[string]Backend {
	t.Helper()
	dir, err := NewDir(t.TempDir())
	require.NoError(t, err)
	served := NewMemory()
	srv := httptest.NewServer(Handler(served, 0))
	t.Cleanup(srv.Close)
	return map[string]Backend{
		"memory": NewMemory(),
		"dir":    dir,
		"http":   NewHTTP(srv.URL),
		"s3":     newFakeS3(t, "tars/"),
	}
}

// newFakeS3 starts a real S3-compatible server (gofakes3, in memory) on
// loopback and returns an S3 backend on a fresh bucket in it.
func newFakeS3(t *testing.T, prefix string) *S3 {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	s, err := NewS3(ctx, S3Config{Bucket: "tars-test", Endpoint: srv.URL, Region: "us-east-1", Prefix: prefix})
	require.NoError(t, err)
	require.Error(t, s.Check(ctx), "the bucket does not exist yet")
	_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.cfg.Bucket})
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	return s
}

func TestBackendsRoundTrip(t *testing.T) {
	ctx := context.Background()
	data := []byte(strings.Repeat("tars ", 100_000))
	key := Key(data)
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			_, err := b.Get(ctx, key)
			require.ErrorIs(t, err, ErrNotFound)
			require.NoError(t, b.Put(ctx, key, data))
			require.NoError(t, b.Put(ctx, key, data), "storing the same blob twice is fine")
			got, err := b.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, data, got)
			assert.ErrorContains(t, b.Put(ctx, "../etc/passwd", data), "not a sha256")
		})
	}
}

func TestHTTPHandlerRefuses(t *testing.T) {
	m := NewMemory()
	srv := httptest.NewServer(Handler(m, 1024))
	defer srv.Close()
	put := func(key string, body string, hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/blobs/"+key, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusBadRequest, put(Key([]byte("a")), "b", nil), "a body that does not hash to its key")
	assert.Equal(t, http.StatusForbidden, put(Key([]byte("a")), "a", map[string]string{"Origin": "http://evil.example"}))
	big := strings.Repeat("x", 2000)
	assert.Equal(t, http.StatusRequestEntityTooLarge, put(Key([]byte(big)), big, nil))
	assert.Equal(t, http.StatusNotFound, put("nope", "a", nil))
	assert.Equal(t, http.StatusNoContent, put(Key([]byte("a")), "a", nil))
	assert.Equal(t, 1, m.Len())
}

func TestDriverStoresAndRetrievesPayloads(t *testing.T) {
	ctx := context.Background()
	dc := converter.GetDefaultDataConverter()
	big, err := dc.ToPayload(map[string]any{"blob": strings.Repeat("x", 3<<20)})
	require.NoError(t, err)
	small, err := dc.ToPayload("small")
	require.NoError(t, err)
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := NewDriver(DriverName, b, 0)
			claims, err := d.Store(converter.StorageDriverStoreContext{Context: ctx}, []*commonpb.Payload{big, small})
			require.NoError(t, err)
			require.Len(t, claims, 2)
			assert.NotEqual(t, claims[0].ClaimData[claimSHA256], claims[1].ClaimData[claimSHA256])
			again, err := d.Store(converter.StorageDriverStoreContext{Context: ctx}, []*commonpb.Payload{big})
			require.NoError(t, err)
			assert.Equal(t, claims[0], again[0], "content-addressed: the same value, the same claim")

			got, err := d.Retrieve(converter.StorageDriverRetrieveContext{Context: ctx}, claims)
			require.NoError(t, err)
			var v map[string]any
			require.NoError(t, dc.FromPayload(got[0], &v))
			assert.Len(t, v["blob"], 3<<20)
			var s string
			require.NoError(t, dc.FromPayload(got[1], &s))
			assert.Equal(t, "small", s)
		})
	}
}

func TestDriverRejects(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	d := NewDriver(DriverName, m, 100)
	p := &commonpb.Payload{Data: []byte(strings.Repeat("x", 200))}
	_, err := d.Store(converter.StorageDriverStoreContext{Context: ctx}, []*commonpb.Payload{p})
	assert.ErrorContains(t, err, "over the 100 B limit")

	_, err = d.Retrieve(converter.StorageDriverRetrieveContext{Context: ctx}, []converter.StorageDriverClaim{{ClaimData: map[string]string{claimSHA256: Key([]byte("gone"))}}})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "retention")

	// A corrupt blob is refused, not decoded.
	key := Key([]byte("real"))
	m.blobs[key] = memBlob{data: []byte("forged"), used: time.Now()}
	_, err = d.Retrieve(converter.StorageDriverRetrieveContext{Context: ctx}, []converter.StorageDriverClaim{{ClaimData: map[string]string{claimSHA256: key}}})
	assert.ErrorContains(t, err, "corrupt")
}

func TestSweepDeletesBlobsPastRetention(t *testing.T) {
	ctx := context.Background()
	old, fresh := []byte("old"), []byte("fresh")

	t.Run("memory", func(t *testing.T) {
		m := NewMemory()
		clock := time.Now().Add(-48 * time.Hour)
		m.now = func() time.Time { return clock }
		require.NoError(t, m.Put(ctx, Key(old), old))
		clock = time.Now()
		require.NoError(t, m.Put(ctx, Key(fresh), fresh))
		j := &Janitor{Store: m, Retention: func(context.Context) (time.Duration, error) { return 24 * time.Hour, nil }}
		n, err := j.SweepOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		_, err = m.Get(ctx, Key(old))
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = m.Get(ctx, Key(fresh))
		assert.NoError(t, err)
	})

	t.Run("dir", func(t *testing.T) {
		d, err := NewDir(t.TempDir())
		require.NoError(t, err)
		require.NoError(t, d.Put(ctx, Key(old), old))
		require.NoError(t, d.Put(ctx, Key(fresh), fresh))
		past := time.Now().Add(-48 * time.Hour)
		require.NoError(t, os.Chtimes(d.path(Key(old)), past, past))
		require.NoError(t, os.WriteFile(filepath.Join(d.Root(), "notes.txt"), []byte("not a blob"), 0o600))
		require.NoError(t, os.Chtimes(filepath.Join(d.Root(), "notes.txt"), past, past))
		j := &Janitor{Store: d, Retention: func(context.Context) (time.Duration, error) { return 24 * time.Hour, nil }}
		n, err := j.SweepOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		_, err = d.Get(ctx, Key(old))
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = d.Get(ctx, Key(fresh))
		assert.NoError(t, err)
		assert.FileExists(t, filepath.Join(d.Root(), "notes.txt"), "files that are not blobs are left alone")
	})

	t.Run("janitor runs until stopped", func(t *testing.T) {
		m := NewMemory()
		m.now = func() time.Time { return time.Now().Add(-time.Hour) }
		require.NoError(t, m.Put(ctx, Key(old), old))
		j := &Janitor{Store: m, Interval: 10 * time.Millisecond, Retention: func(context.Context) (time.Duration, error) { return time.Minute, nil }}
		j.Start()
		require.Eventually(t, func() bool { return m.Len() == 0 }, 5*time.Second, 10*time.Millisecond)
		j.Stop()
	})
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"256KiB": 256 << 10, "256k": 256 << 10, "1MiB": 1 << 20, "2MB": 2_000_000, "100": 100,
		"off": 0, "0": 0, " 1.5 MiB ": 3 << 19, "10b": 10,
	} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "lots", "-1", "1TB", "KiB"} {
		_, err := ParseSize(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "2.4 MiB", FormatSize(2_500_000))
	assert.Equal(t, "512 B", FormatSize(512))
}

func TestResolveReference(t *testing.T) {
	ctx := context.Background()
	d := NewDriver(DriverName, NewMemory(), 0)
	val, err := converter.GetDefaultDataConverter().ToPayload("the value")
	require.NoError(t, err)
	claims, err := d.Store(converter.StorageDriverStoreContext{Context: ctx}, []*commonpb.Payload{val})
	require.NoError(t, err)
	data, err := protojson.Marshal(&sdkpb.ExternalStorageReference{DriverName: DriverName, ClaimData: claims[0].ClaimData})
	require.NoError(t, err)
	ref := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/protobuf"), "messageType": []byte("temporal.api.sdk.v1.ExternalStorageReference")}, Data: data}
	require.True(t, IsReference(ref))
	require.False(t, IsReference(val))
	// The reference carries the start of a plain value for the trace.
	assert.Equal(t, `"the value"`, workflows.PayloadPreview(ref))

	got, err := Resolve(ctx, d, ref)
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(got, &s))
	assert.Equal(t, "the value", s)

	_, err = Resolve(ctx, NewDriver(S3DriverName, NewMemory(), 0), ref)
	assert.ErrorContains(t, err, `stored by driver "tars-blobs"`)
	same, err := Resolve(ctx, nil, val)
	require.NoError(t, err)
	assert.Same(t, val, same)
}

// TestPreviewClaim: a stored plain value's reference holds its first
// workflows.PreviewBytes bytes, cut on a rune boundary; an encoded
// (encrypted) value's holds none, so no plaintext reaches the history.
func TestPreviewClaim(t *testing.T) {
	ctx := converter.StorageDriverStoreContext{Context: context.Background()}
	d := NewDriver(DriverName, NewMemory(), 0)
	long, err := converter.GetDefaultDataConverter().ToPayload(strings.Repeat("é", 1000))
	require.NoError(t, err)
	secret := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("binary/encrypted")}, Data: []byte("ciphertext")}
	claims, err := d.Store(ctx, []*commonpb.Payload{long, secret})
	require.NoError(t, err)
	p := claims[0].ClaimData[workflows.PreviewClaim]
	assert.True(t, strings.HasPrefix(p, `"éé`), p)
	assert.True(t, strings.HasSuffix(p, "…"), p)
	assert.LessOrEqual(t, len(p), workflows.PreviewBytes+len("…"))
	assert.True(t, utf8.ValidString(p))
	_, has := claims[1].ClaimData[workflows.PreviewClaim]
	assert.False(t, has, "an encrypted value has no preview")
}
