package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/tars-engine/tars/internal/blobstore"
	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/workflows"
)

// storeFlags configure where large values go (docs/large-values.md).
// Precedence as for every global: flags, environment, config file, defaults.
type storeFlags struct {
	threshold string
	maxBlob   string
	dir       string
	s3        blobstore.S3Config

	// Resolved.
	thresholdBytes int64
	maxBlobBytes   int64

	// driver, once made, is shared by every client this process dials, so
	// that tars dev's in-process workers use its store directly.
	driver *blobstore.Driver
	// where says which store driver is, for messages.
	where string
}

// storeConfig is the `store:` section of the TARS config file.
type storeConfig struct {
	Threshold string        `yaml:"threshold"`
	MaxValue  string        `yaml:"max_value"`
	Dir       string        `yaml:"dir"`
	S3        *s3FileConfig `yaml:"s3"`
}

// s3FileConfig is the `store: s3:` section of the TARS config file.
type s3FileConfig struct {
	Bucket   string `yaml:"bucket"`
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	Prefix   string `yaml:"prefix"`
}

func (s *storeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&s.threshold, "store-threshold", "", "values whose encoded size is at least this go to external storage instead of the history, e.g. 256KiB, 1MiB; off: never (env TARS_STORE_THRESHOLD; default 256KiB)")
	f.StringVar(&s.maxBlob, "store-max-value", "", "largest value external storage takes; a larger one fails its step or run at once (env TARS_STORE_MAX_VALUE; default 1GiB)")
	f.StringVar(&s.dir, "store-dir", "", "keep large values in this directory, shared by the tars processes of one machine (env TARS_STORE_DIR; default: tars dev's store, beside --db or in memory)")
	f.StringVar(&s.s3.Bucket, "store-s3-bucket", "", "keep large values in this S3 bucket; credentials from the standard AWS environment (env TARS_STORE_S3_BUCKET)")
	f.StringVar(&s.s3.Endpoint, "store-s3-endpoint", "", "URL of an S3-compatible store (MinIO, Ceph, ...); default AWS S3 (env TARS_STORE_S3_ENDPOINT)")
	f.StringVar(&s.s3.Region, "store-s3-region", "", "S3 region (env TARS_STORE_S3_REGION; default AWS_REGION, else us-east-1)")
	f.StringVar(&s.s3.Prefix, "store-s3-prefix", "", "key prefix of the blobs in the bucket, e.g. tars/ (env TARS_STORE_S3_PREFIX)")
}

// resolve fills unset settings from the environment and the config file
// and checks them.
func (s *storeFlags) resolve(fc *storeConfig) error {
	if fc == nil {
		fc = &storeConfig{}
	}
	pick := func(dst *string, env, file string) {
		if *dst != "" {
			return
		}
		if v := os.Getenv(env); v != "" {
			*dst = v
			return
		}
		*dst = file
	}
	pick(&s.threshold, "TARS_STORE_THRESHOLD", fc.Threshold)
	pick(&s.maxBlob, "TARS_STORE_MAX_VALUE", fc.MaxValue)
	pick(&s.dir, "TARS_STORE_DIR", fc.Dir)
	var fs3 s3FileConfig
	if fc.S3 != nil {
		fs3 = *fc.S3
	}
	pick(&s.s3.Bucket, "TARS_STORE_S3_BUCKET", fs3.Bucket)
	pick(&s.s3.Endpoint, "TARS_STORE_S3_ENDPOINT", fs3.Endpoint)
	pick(&s.s3.Region, "TARS_STORE_S3_REGION", fs3.Region)
	pick(&s.s3.Prefix, "TARS_STORE_S3_PREFIX", fs3.Prefix)

	s.thresholdBytes = blobstore.DefaultThreshold
	if s.threshold != "" {
		n, err := blobstore.ParseSize(s.threshold)
		if err != nil {
			return fmt.Errorf("--store-threshold: %w", err)
		}
		if n >= workflows.DefaultInlineLimit {
			return fmt.Errorf("--store-threshold %s: must be under the server's 2 MiB limit on one value, or off", s.threshold)
		}
		s.thresholdBytes = n
	}
	s.maxBlobBytes = blobstore.DefaultMaxBlob
	if s.maxBlob != "" {
		n, err := blobstore.ParseSize(s.maxBlob)
		if err != nil || n <= 0 {
			return fmt.Errorf("--store-max-value %q: want a size such as 512MiB", s.maxBlob)
		}
		s.maxBlobBytes = n
	}
	if s.s3.Bucket == "" && (s.s3.Endpoint != "" || s.s3.Prefix != "") {
		return fmt.Errorf("--store-s3-endpoint and --store-s3-prefix need --store-s3-bucket")
	}
	if s.s3.Bucket != "" && s.dir != "" {
		return fmt.Errorf("--store-dir and --store-s3-bucket: choose one store")
	}
	return nil
}

// traceResolves makes fetched traces read a stored run input back.
func (g *globals) traceResolves() { tracepage.ResolveStored = g.resolveStored }

// off reports whether external storage is switched off.
func (s *storeFlags) off() bool { return s.thresholdBytes == 0 }

// storeDriver returns the driver this process stores large values with, or
// nil when there is none: S3 when a bucket is set, --store-dir when set,
// else the store of the tars dev serving --address on this machine.
func (g *globals) storeDriver(ctx context.Context) (*blobstore.Driver, error) {
	s := &g.store
	if s.off() {
		return nil, nil
	}
	if s.driver != nil {
		return s.driver, nil
	}
	switch {
	case s.s3.Bucket != "":
		b, err := blobstore.NewS3(ctx, s.s3)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := b.Check(cctx); err != nil {
			return nil, err
		}
		s.driver, s.where = blobstore.NewDriver(blobstore.S3DriverName, b, int(s.maxBlobBytes)), "s3://"+s.s3.Bucket+"/"+s.s3.Prefix
	case s.dir != "":
		b, err := blobstore.NewDir(s.dir)
		if err != nil {
			return nil, err
		}
		s.driver, s.where = blobstore.NewDriver(blobstore.DriverName, b, int(s.maxBlobBytes)), s.dir
	default:
		st, ok := readDevState(g.address)
		if !ok || st.Blobs == "" {
			return nil, nil
		}
		s.driver, s.where = blobstore.NewDriver(blobstore.DriverName, blobstore.NewHTTP(st.Blobs), int(s.maxBlobBytes)), st.Blobs
	}
	return s.driver, nil
}

// externalStorage is the client option for the store, zero when none.
func (g *globals) externalStorage(ctx context.Context) (converter.ExternalStorage, error) {
	d, err := g.storeDriver(ctx)
	if err != nil || d == nil {
		return converter.ExternalStorage{}, err
	}
	return converter.ExternalStorage{
		Drivers:              []converter.StorageDriver{d},
		PayloadSizeThreshold: int(g.store.thresholdBytes),
	}, nil
}

// valueLimits are the limits the interpreter workers this process starts
// hold values to: the namespace's limit on one payload, and the store's.
func (g *globals) valueLimits(ctx context.Context, c client.Client) workflows.ValueLimits {
	l := workflows.ValueLimits{}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ns, err := c.WorkflowService().DescribeNamespace(dctx, &workflowservice.DescribeNamespaceRequest{Namespace: g.namespace}); err == nil {
		l.Inline = int(ns.GetNamespaceInfo().GetLimits().GetBlobSizeLimitError())
	}
	if d, _ := g.storeDriver(ctx); d != nil {
		l.Threshold, l.Stored, l.Store = int(g.store.thresholdBytes), d.MaxBlob(), d.Name()
	}
	return l
}

// setValueLimits tells the interpreter on this process's queue how large a
// value may be, before its worker starts.
func (g *globals) setValueLimits(ctx context.Context, c client.Client) {
	workflows.SetValueLimits(workflows.WorkflowQueue(g.queuePrefix), g.valueLimits(ctx, c))
}

// nativeOutputMax is the native pool's cap on one output: with external
// storage, the store's limit; without, 1 MiB under the history's limit.
//
// It looks at the settings only, never at the store itself: compile and
// validate build pool configs too, and must not reach a bucket.
func (g *globals) nativeOutputMax() int64 {
	s := &g.store
	if s.off() {
		return 0 // the pool's default
	}
	if s.driver != nil || s.s3.Bucket != "" || s.dir != "" {
		return s.maxBlobBytes
	}
	if st, ok := readDevState(g.address); ok && st.Blobs != "" {
		return s.maxBlobBytes
	}
	return 0
}

// embeddedStore is tars dev's blob store: the backend its in-process
// workers use, served on loopback for the other tars processes of this
// machine, swept past the namespace's retention.
type embeddedStore struct {
	backend blobstore.Backend
	server  *blobstore.Server
	janitor *blobstore.Janitor
	where   string
}

func (e *embeddedStore) close() {
	if e.janitor != nil {
		e.janitor.Stop()
	}
	if e.server != nil {
		_ = e.server.Close()
	}
}

// startEmbeddedStore starts tars dev's store unless external storage is
// off or another store (S3, --store-dir) is configured: in memory, or in
// <db>.blobs beside the --db file. It serves it on ip (loopback unless
// tars dev listens elsewhere) and makes it this process's driver.
func (g *globals) startEmbeddedStore(ip, dbFile string) (*embeddedStore, error) {
	s := &g.store
	if s.off() || s.s3.Bucket != "" || s.dir != "" {
		return nil, nil
	}
	e := &embeddedStore{}
	var sweeper blobstore.Sweeper
	if dbFile != "" {
		dir, err := blobstore.NewDir(strings.TrimSuffix(dbFile, filepath.Ext(dbFile)) + ".blobs")
		if err != nil {
			return nil, err
		}
		e.backend, sweeper, e.where = dir, dir, dir.Root()
	} else {
		m := blobstore.NewMemory()
		e.backend, sweeper, e.where = m, m, "memory"
	}
	srv, err := blobstore.Serve(ip+":0", e.backend, int(s.maxBlobBytes))
	if err != nil {
		return nil, err
	}
	e.server = srv
	s.driver, s.where = blobstore.NewDriver(blobstore.DriverName, e.backend, int(s.maxBlobBytes)), e.where
	e.janitor = &blobstore.Janitor{Store: sweeper, Logger: g.logger(), Retention: g.namespaceRetention}
	return e, nil
}

// namespaceRetention asks the server how long closed runs are kept.
func (g *globals) namespaceRetention(ctx context.Context) (time.Duration, error) {
	var ret time.Duration
	err := g.withClient(ctx, func(c client.Client) error {
		ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: g.namespace})
		if err != nil {
			return err
		}
		ret = ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
		return nil
	})
	return ret, err
}

// url is where the store is served, "" for none.
func (e *embeddedStore) url() string {
	if e == nil || e.server == nil {
		return ""
	}
	return e.server.URL()
}

// describe says where large values go, for tars dev's banner.
func (s *storeFlags) describe() string {
	if s.off() {
		return "kept in the history (external storage off)"
	}
	if s.driver == nil {
		return ""
	}
	return fmt.Sprintf("%s and over stored in %s", blobstore.FormatSize(s.thresholdBytes), s.where)
}

// resolveStored reads a stored run input back into a fetched history, for
// the trace (tracepage.ResolveStored), decoded as storedValue decodes.
func (g *globals) resolveStored(ctx context.Context, h *historypb.History) error {
	in := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	for i, p := range in.GetPayloads() {
		if !blobstore.IsReference(p) {
			continue
		}
		v, err := g.storedValue(ctx, p)
		if err != nil {
			return fmt.Errorf("run input: %w", err)
		}
		in.Payloads[i] = v
	}
	return nil
}

// storedValue reads a value stored outside the history back, decoded by the
// payload codec when one is configured (the trace page's whole values).
func (g *globals) storedValue(ctx context.Context, p *commonpb.Payload) (*commonpb.Payload, error) {
	d, err := g.storeDriver(ctx)
	if err != nil {
		return nil, err
	}
	v, err := blobstore.Resolve(ctx, d, p)
	if err != nil {
		return nil, err
	}
	pc, err := g.payloadCodec()
	if err != nil || pc == nil {
		return v, err
	}
	out, err := pc.Decode([]*commonpb.Payload{v})
	if err != nil {
		return nil, withCodecHint(err)
	}
	return out[0], nil
}
