package blobstore

import (
	"errors"
	"fmt"
	"strconv"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/tars-engine/tars/workflows"
)

// Driver names. A driver's name is written into every reference it makes,
// and a reader needs a driver of that name to resolve the reference: every
// client and worker of a namespace configures the same one.
const (
	// DriverName is the content-addressed store of tars dev (Memory, Dir,
	// or HTTP to a tars dev's store).
	DriverName = "tars-blobs"
	// S3DriverName is the S3 store of a cluster.
	S3DriverName = "tars-s3"
	// DriverType is the type of every driver of this package.
	DriverType = "tars.blobstore"
)

// DefaultThreshold is the payload size at and above which a value is stored
// outside the history when no threshold is configured: well under the
// server's 2 MiB limit on one payload, and the SDK's own default.
const DefaultThreshold = 256 << 10

// DefaultMaxBlob bounds one stored value when none is configured. Every
// value also passes through the memory of the workers that use it.
const DefaultMaxBlob = 1 << 30

// Claim keys.
const (
	claimSHA256 = "sha256"
	claimSize   = "size"
)

// Driver is a converter.StorageDriver over a Backend. Each payload is
// stored as its deterministic protobuf encoding under the sha256 of those
// bytes.
type Driver struct {
	name    string
	backend Backend
	max     int
}

// NewDriver returns a driver named name over b. maxBlob bounds one stored
// payload (0: DefaultMaxBlob).
func NewDriver(name string, b Backend, maxBlob int) *Driver {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlob
	}
	return &Driver{name: name, backend: b, max: maxBlob}
}

// Name implements converter.StorageDriver.
func (d *Driver) Name() string { return d.name }

// Type implements converter.StorageDriver.
func (d *Driver) Type() string { return DriverType }

// Backend is the backend the driver stores in.
func (d *Driver) Backend() Backend { return d.backend }

// MaxBlob is the largest payload the driver stores.
func (d *Driver) MaxBlob() int { return d.max }

var marshal = proto.MarshalOptions{Deterministic: true}

// Store implements converter.StorageDriver.
func (d *Driver) Store(ctx converter.StorageDriverStoreContext, payloads []*commonpb.Payload) ([]converter.StorageDriverClaim, error) {
	claims := make([]converter.StorageDriverClaim, len(payloads))
	for i, p := range payloads {
		err := ctx.GetLimiter().Permit(ctx.Context, p, func() error {
			b, err := marshal.Marshal(p)
			if err != nil {
				return err
			}
			if len(b) > d.max {
				return fmt.Errorf("value of %s is over the %s limit of the %s store", FormatSize(int64(len(b))), FormatSize(int64(d.max)), d.name)
			}
			key := Key(b)
			if err := d.backend.Put(ctx.Context, key, b); err != nil {
				return fmt.Errorf("store %s: %w", key, err)
			}
			claim := map[string]string{claimSHA256: key, claimSize: strconv.Itoa(len(b))}
			if string(p.GetMetadata()["encoding"]) == "json/plain" {
				// A plain value (no codec) is in the clear wherever it is;
				// its first bytes go into the reference for the trace.
				claim[workflows.PreviewClaim] = workflows.Preview(string(p.GetData()), workflows.PreviewBytes)
			}
			claims[i] = converter.StorageDriverClaim{ClaimData: claim}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// Retrieve implements converter.StorageDriver. A blob whose bytes do not
// hash to its key is an error, whatever the backend.
func (d *Driver) Retrieve(ctx converter.StorageDriverRetrieveContext, claims []converter.StorageDriverClaim) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(claims))
	for i, c := range claims {
		err := ctx.GetLimiter().Permit(ctx.Context, c, func() error {
			key := c.ClaimData[claimSHA256]
			if !ValidKey(key) {
				return fmt.Errorf("claim has no valid %s: %v", claimSHA256, c.ClaimData)
			}
			b, err := d.backend.Get(ctx.Context, key)
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					return fmt.Errorf("%w (deleted after the namespace's retention, or stored in another store)", err)
				}
				return err
			}
			if Key(b) != key {
				return fmt.Errorf("blob %s is corrupt: its bytes hash to %s", key, Key(b))
			}
			p := &commonpb.Payload{}
			if err := proto.Unmarshal(b, p); err != nil {
				return fmt.Errorf("blob %s: %w", key, err)
			}
			out[i] = p
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FormatSize renders n bytes for people: "512 B", "256.0 KiB", "2.4 MiB".
func FormatSize(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
