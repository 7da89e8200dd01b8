package workflows

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	commonpb "go.temporal.io/api/common/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestPreviews(t *testing.T) {
	assert.Equal(t, "short", Preview("short", 10))
	assert.Equal(t, "é…", Preview("ééé", 3), "cut on a rune boundary")

	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"output":"` + strings.Repeat("x", 300) + `"}`)}
	assert.Equal(t, PreviewBytes+len("…"), len(PayloadPreview(plain)))
	assert.True(t, strings.HasPrefix(ResultPreview(plain), `"xxx`), "the result's wrapper is left out")

	secret := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("binary/encrypted")}, Data: []byte("ciphertext")}
	assert.Empty(t, PayloadPreview(secret), "no preview of an encrypted value")

	data, err := protojson.Marshal(&sdkpb.ExternalStorageReference{DriverName: "tars-blobs", ClaimData: map[string]string{PreviewClaim: `{"output":"abc…`}})
	assert.NoError(t, err)
	ref := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/protobuf"), "messageType": []byte("temporal.api.sdk.v1.ExternalStorageReference")}, Data: data}
	got, ok := StoredReference(ref)
	assert.True(t, ok)
	assert.Equal(t, "tars-blobs", got.GetDriverName())
	assert.Equal(t, `"abc…`, ResultPreview(ref), "a stored value's preview comes from its reference")
	_, ok = StoredReference(plain)
	assert.False(t, ok)
}
