package codec

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

func key(t *testing.T, id string) Key {
	t.Helper()
	k, err := NewKey(id)
	require.NoError(t, err)
	return k
}

func plainPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestRoundTripAndMetadata(t *testing.T) {
	c, err := New(key(t, "k1"))
	require.NoError(t, err)
	in := []*commonpb.Payload{plainPayload(t, "the plaintext prompt"), plainPayload(t, map[string]int{"n": 1})}
	enc, err := c.Encode(in)
	require.NoError(t, err)
	require.Len(t, enc, 2)
	for _, p := range enc {
		assert.True(t, IsEncrypted(p))
		assert.Equal(t, "k1", string(p.Metadata[MetadataKeyID]))
		assert.Equal(t, Cipher, string(p.Metadata[MetadataCipher]))
		assert.NotContains(t, string(p.Data), "plaintext")
		assert.NotContains(t, string(p.Data), "json/plain", "the original metadata is sealed too")
	}
	assert.NotEqual(t, enc[0].Data[:12], enc[1].Data[:12], "each payload has its own nonce")
	again, err := c.Encode(enc)
	require.NoError(t, err)
	assert.Equal(t, enc[0].Data, again[0].Data, "an encrypted payload is not encrypted twice")

	dec, err := c.Decode(enc)
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	assert.Equal(t, "the plaintext prompt", s)
	assert.Equal(t, in[1].Metadata, dec[1].Metadata)

	// Plain payloads (written before the codec) pass.
	dec, err = c.Decode(in)
	require.NoError(t, err)
	assert.Equal(t, in, dec)
}

func TestRotation(t *testing.T) {
	old, cur := key(t, "2026-01"), key(t, "2026-12")
	before, err := New(old)
	require.NoError(t, err)
	written, err := before.Encode([]*commonpb.Payload{plainPayload(t, "written under the old key")})
	require.NoError(t, err)

	after, err := New(cur, old)
	require.NoError(t, err)
	assert.Equal(t, "2026-12", after.CurrentKey())
	assert.Equal(t, []string{"2026-12", "2026-01"}, after.KeyIDs())
	dec, err := after.Decode(written)
	require.NoError(t, err, "the old key still decrypts")
	assert.Contains(t, string(dec[0].Data), "written under the old key")
	fresh, err := after.Encode([]*commonpb.Payload{plainPayload(t, "new")})
	require.NoError(t, err)
	assert.Equal(t, "2026-12", string(fresh[0].Metadata[MetadataKeyID]), "the first key encrypts")

	// A codec that dropped the old key refuses, naming it.
	dropped, err := New(cur)
	require.NoError(t, err)
	_, err = dropped.Decode(written)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnknownKey))
	assert.Contains(t, err.Error(), `"2026-01"`)
	assert.NotContains(t, err.Error(), "written under")
}

func TestTamperAndWrongKey(t *testing.T) {
	k1 := key(t, "k1")
	c, err := New(k1)
	require.NoError(t, err)
	enc, err := c.Encode([]*commonpb.Payload{plainPayload(t, "secret")})
	require.NoError(t, err)

	other, err := New(key(t, "k1")) // same id, other bytes
	require.NoError(t, err)
	_, err = other.Decode(enc)
	require.ErrorContains(t, err, "does not decrypt")

	flipped := &commonpb.Payload{Metadata: enc[0].Metadata, Data: bytes.Clone(enc[0].Data)}
	flipped.Data[len(flipped.Data)-1] ^= 1
	_, err = c.Decode([]*commonpb.Payload{flipped})
	require.ErrorContains(t, err, "does not decrypt")

	// The key id is bound to the ciphertext: relabelling fails.
	c2, err := New(k1, Key{ID: "k2", Secret: k1.Secret})
	require.NoError(t, err)
	relabelled := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte(Encoding), MetadataKeyID: []byte("k2")}, Data: enc[0].Data}
	_, err = c2.Decode([]*commonpb.Payload{relabelled})
	require.ErrorContains(t, err, "does not decrypt")

	short := &commonpb.Payload{Metadata: enc[0].Metadata, Data: []byte("x")}
	_, err = c.Decode([]*commonpb.Payload{short})
	require.ErrorContains(t, err, "too short")
}

func TestParseKeys(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	raw := base64.RawURLEncoding.EncodeToString(k2.Secret)
	keys, err := ParseKeys("# rotated 2026-12-02\n"+k1.String()+"\n\n k2 : "+raw+" \n", "keys.txt")
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, k1, keys[0])
	assert.Equal(t, k2, keys[1])

	keys, err = ParseKeys(k2.String()+","+k1.String(), "TARS_CODEC_KEYS")
	require.NoError(t, err)
	assert.Equal(t, []Key{k2, k1}, keys, "commas separate entries in one variable")

	short := "k3:" + base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, tc := range []struct{ text, want string }{
		{"", "keys.txt: no keys"},
		{"# only a comment\n", "no keys"},
		{"justakey", "keys.txt:1: an entry without ':'"},
		{k1.String() + "\nk1:" + raw, `keys.txt:2: key id "k1" is listed twice`},
		{"k1:not*base64", `key "k1" is not base64`},
		{short, "is 16 bytes: want 32"},
		{"bad id!:" + raw, `key id "bad id!"`},
	} {
		_, err := ParseKeys(tc.text, "keys.txt")
		require.Error(t, err, tc.text)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), raw, "an error never quotes a secret")
	}
	_, err = ReadKeyFile("/nonexistent/keys")
	require.ErrorContains(t, err, "codec key file")
	_, err = New()
	require.Error(t, err)
	_, err = New(k1, k1)
	require.ErrorContains(t, err, "given twice")
}

// The SDK's converters with the codec: values and failure messages leave
// as ciphertext and come back whole.
func TestDataAndFailureConverter(t *testing.T) {
	c, err := New(key(t, "k1"))
	require.NoError(t, err)
	dc := DataConverter(c)
	p, err := dc.ToPayload("model answer: 42")
	require.NoError(t, err)
	assert.True(t, IsEncrypted(p))
	var s string
	require.NoError(t, dc.FromPayload(p, &s))
	assert.Equal(t, "model answer: 42", s)

	fc := FailureConverter(dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("tool said: secret stderr", "ToolFailed"))
	assert.Equal(t, "Encoded failure", f.GetMessage())
	assert.Equal(t, "ToolFailed", f.GetApplicationFailureInfo().GetType(), "error types stay readable")
	assert.True(t, IsEncrypted(f.GetEncodedAttributes()))

	// A history read raw decodes in place, failures included.
	h := &historypb.History{Events: []*historypb.HistoryEvent{
		{EventId: 1, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}}}},
		{EventId: 2, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, Attributes: &historypb.HistoryEvent_WorkflowExecutionFailedEventAttributes{
			WorkflowExecutionFailedEventAttributes: &historypb.WorkflowExecutionFailedEventAttributes{Failure: &failurepb.Failure{
				Message: f.Message, EncodedAttributes: f.EncodedAttributes, Cause: fc.ErrorToFailure(errors.New("inner detail"))}}}},
	}}
	require.NoError(t, DecodeHistory(context.Background(), c, h))
	assert.Contains(t, string(h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].GetData()), "model answer: 42")
	fail := h.Events[1].GetWorkflowExecutionFailedEventAttributes().GetFailure()
	assert.Equal(t, "tool said: secret stderr", fail.GetMessage())
	assert.Equal(t, "inner detail", fail.GetCause().GetMessage(), "causes decode too")

	// Without the key, decoding fails and leaves no plaintext behind.
	other, err := New(key(t, "k9"))
	require.NoError(t, err)
	h2 := &historypb.History{Events: []*historypb.HistoryEvent{{EventId: 1, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}}}}}}
	err = DecodeHistory(context.Background(), other, h2)
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.False(t, strings.Contains(h2.String(), "model answer"))
}

// BenchmarkEncodeDecode is the codec's cost on a 4 KiB payload (a prompt or
// a tool's output): one Encode and one Decode an op.
func BenchmarkEncodeDecode(b *testing.B) {
	k, err := NewKey("k1")
	require.NoError(b, err)
	c, err := New(k)
	require.NoError(b, err)
	p, err := converter.GetDefaultDataConverter().ToPayload(strings.Repeat("a prompt ", 455))
	require.NoError(b, err)
	ps := []*commonpb.Payload{p}
	b.SetBytes(int64(len(p.Data)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := c.Encode(ps)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
