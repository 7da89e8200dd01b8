package codec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "http://localhost:8233"

func post(t *testing.T, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestHandlerProtocolAndCORS(t *testing.T) {
	c, err := New(key(t, "k1"))
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(c, ServerOptions{Origins: []string{uiOrigin}, Auth: "Bearer t0ken", Namespaces: []string{"default"}}))
	defer srv.Close()
	hdr := map[string]string{"Authorization": "Bearer t0ken", "X-Namespace": "default"}

	// encode then decode over HTTP, in the proto JSON form.
	plain := &commonpb.Payloads{Payloads: []*commonpb.Payload{plainPayload(t, "over the wire")}}
	body, err := protojson.Marshal(plain)
	require.NoError(t, err)
	resp, out := post(t, srv.URL+"/encode", string(body), hdr)
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	assert.Contains(t, out, "YmluYXJ5L2VuY3J5cHRlZA==", "binary/encrypted in base64")
	assert.NotContains(t, out, "over the wire")
	resp, out = post(t, srv.URL+"/decode", out, hdr)
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	var got commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(out), &got))
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(got.Payloads[0], &s))
	assert.Equal(t, "over the wire", s)

	// The remote codec of the SDK (what --codec-endpoint uses) speaks it.
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL, ModifyRequest: func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer t0ken")
		r.Header.Set("X-Namespace", "default")
		return nil
	}})
	enc, err := c.Encode(plain.Payloads)
	require.NoError(t, err)
	dec, err := remote.Decode(enc)
	require.NoError(t, err)
	assert.Contains(t, string(dec[0].Data), "over the wire")

	// Preflight from the UI's origin.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
	pre, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	pre.Body.Close()
	assert.Equal(t, http.StatusNoContent, pre.StatusCode)
	assert.Equal(t, uiOrigin, pre.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", pre.Header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, pre.Header.Get("Access-Control-Allow-Methods"), "POST")
	for _, h := range []string{"X-Namespace", "Content-Type", "Authorization"} {
		assert.Contains(t, pre.Header.Get("Access-Control-Allow-Headers"), h)
	}
	resp, _ = post(t, srv.URL+"/decode", string(body), map[string]string{"Origin": uiOrigin, "Authorization": "Bearer t0ken", "X-Namespace": "default"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))

	encBody, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		code int
	}{
		{"another origin", map[string]string{"Origin": "http://evil.example", "Authorization": "Bearer t0ken", "X-Namespace": "default"}, http.StatusForbidden},
		{"no auth", map[string]string{"X-Namespace": "default"}, http.StatusUnauthorized},
		{"wrong auth", map[string]string{"Authorization": "Bearer nope", "X-Namespace": "default"}, http.StatusUnauthorized},
		{"other namespace", map[string]string{"Authorization": "Bearer t0ken", "X-Namespace": "prod"}, http.StatusForbidden},
	} {
		resp, out := post(t, srv.URL+"/decode", string(encBody), tc.hdr)
		assert.Equal(t, tc.code, resp.StatusCode, tc.name)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), tc.name)
		assert.NotContains(t, out, "over the wire", tc.name)
		assert.NotContains(t, out, "b3ZlciB0aGUgd2lyZS", tc.name)
	}
	req, _ = http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://evil.example")
	pre, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	pre.Body.Close()
	assert.Equal(t, http.StatusForbidden, pre.StatusCode)
	assert.Empty(t, pre.Header.Get("Access-Control-Allow-Origin"))

	resp, _ = post(t, srv.URL+"/other", "{}", hdr)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, out = post(t, srv.URL+"/decode", "not json", hdr)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, out)
	h, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	h.Body.Close()
	assert.Equal(t, http.StatusOK, h.StatusCode)
}

// A codec server without the key refuses and returns nothing of the
// payload.
func TestHandlerWithoutTheKey(t *testing.T) {
	writer, err := New(key(t, "k1"))
	require.NoError(t, err)
	enc, err := writer.Encode([]*commonpb.Payload{plainPayload(t, "only for k1 holders")})
	require.NoError(t, err)
	other, err := New(key(t, "k2"))
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(other, ServerOptions{}))
	defer srv.Close()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)
	resp, out := post(t, srv.URL+"/decode", string(body), nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, out, `payload encrypted with key "k1"`)
	assert.NotContains(t, out, "only for k1")
}
