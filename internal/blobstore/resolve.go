package blobstore

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// referenceType is the message type of the SDK's reference payloads.
var referenceType = string((&sdkpb.ExternalStorageReference{}).ProtoReflect().Descriptor().FullName())

// IsReference reports whether p is a reference to a stored value.
func IsReference(p *commonpb.Payload) bool {
	return string(p.GetMetadata()["messageType"]) == referenceType
}

// Resolve returns the value p refers to, read with d, or p itself when p is
// not a reference.
func Resolve(ctx context.Context, d converter.StorageDriver, p *commonpb.Payload) (*commonpb.Payload, error) {
	if !IsReference(p) {
		return p, nil
	}
	var ref sdkpb.ExternalStorageReference
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(p.GetData(), &ref); err != nil {
		return nil, fmt.Errorf("storage reference: %w", err)
	}
	if d == nil || ref.GetDriverName() != d.Name() {
		return nil, fmt.Errorf("value stored by driver %q, which this process does not have (docs/large-values.md)", ref.GetDriverName())
	}
	out, err := d.Retrieve(converter.StorageDriverRetrieveContext{Context: ctx}, []converter.StorageDriverClaim{{ClaimData: ref.GetClaimData()}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ResolveStartInput replaces a stored run input in the first event of h (the
// trace reads the run's Plan from it) by the value itself. Other stored
// values stay references: the trace shows their sizes, and fetching them is
// on demand.
func ResolveStartInput(ctx context.Context, d converter.StorageDriver, h *historypb.History) error {
	if len(h.GetEvents()) == 0 {
		return nil
	}
	in := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	for i, p := range in.GetPayloads() {
		r, err := Resolve(ctx, d, p)
		if err != nil {
			return fmt.Errorf("run input: %w", err)
		}
		in.Payloads[i] = r
	}
	return nil
}
