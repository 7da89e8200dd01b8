package blobstore

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/tars-engine/tars/workflows"
)

// IsReference reports whether p is a reference to a stored value.
func IsReference(p *commonpb.Payload) bool {
	_, ok := workflows.StoredReference(p)
	return ok
}

// Resolve returns the value p refers to, read with d, or p itself when p is
// not a reference.
func Resolve(ctx context.Context, d converter.StorageDriver, p *commonpb.Payload) (*commonpb.Payload, error) {
	ref, ok := workflows.StoredReference(p)
	if !ok {
		return p, nil
	}
	if ref == nil {
		return nil, fmt.Errorf("storage reference: cannot read %q", p.GetData())
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
