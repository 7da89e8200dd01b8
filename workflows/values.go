package workflows

import (
	"strings"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// How values show before they are fetched whole: `tars result`, `tars
// trace` and the trace page show a value's size and its first PreviewBytes
// bytes. A value stored outside the history (external storage) carries its
// preview in its reference, under the claim PreviewClaim, written by the
// store when the value is plain JSON; an encrypted value (payload codec)
// has none, so no plaintext reaches the history through a preview.
const (
	PreviewBytes = 160
	PreviewClaim = "preview"
)

// Preview is the first n bytes of s, cut at a rune boundary and marked with
// "…" when cut.
func Preview(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// referenceType is the message type of the Temporal SDK's references to
// values in external storage.
var referenceType = string((&sdkpb.ExternalStorageReference{}).ProtoReflect().Descriptor().FullName())

// StoredReference reports whether p is a reference to a value in external
// storage and, if so, returns the reference (its driver name and claims).
func StoredReference(p *commonpb.Payload) (*sdkpb.ExternalStorageReference, bool) {
	if string(p.GetMetadata()["messageType"]) != referenceType {
		return nil, false
	}
	ref := &sdkpb.ExternalStorageReference{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(p.GetData(), ref); err != nil {
		return nil, true
	}
	return ref, true
}

// PayloadPreview is the preview of the value p holds: its first
// PreviewBytes bytes of JSON, or, for a stored value, the preview its
// reference carries. It is "" for a value that is not plain JSON
// (encrypted, binary) and for a stored value without a preview.
func PayloadPreview(p *commonpb.Payload) string {
	if ref, ok := StoredReference(p); ok {
		return ref.GetClaimData()[PreviewClaim]
	}
	if enc := string(p.GetMetadata()["encoding"]); enc != "json/plain" {
		return ""
	}
	return Preview(string(p.GetData()), PreviewBytes)
}

// ResultPreview is the preview of the output in an activity's result
// (activities.Result, `{"output": ...}`) held by p: the start of the
// result, less the `{"output":` it begins with. It is meant for stored
// results, whose preview is cut well before the result's end; an inline
// result is better decoded and its output previewed.
func ResultPreview(p *commonpb.Payload) string {
	return strings.TrimPrefix(PayloadPreview(p), `{"output":`)
}
