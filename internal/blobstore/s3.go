package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config says where an S3 backend keeps its blobs. Credentials come from
// the standard AWS sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE and the shared files, or the instance's role).
type S3Config struct {
	Bucket string
	// Endpoint is the URL of an S3-compatible store (MinIO, Ceph, R2,
	// gofakes3 ...); "" is AWS S3. With an Endpoint, requests use
	// path-style addressing (http://host/bucket/key), which they all serve.
	Endpoint string
	// Region; "" takes AWS_REGION or the profile's, else us-east-1.
	Region string
	// Prefix is put before every key, e.g. "tars/" (a "/" is added when
	// missing).
	Prefix string
}

// S3 is a Backend in an S3 bucket, one object per blob at Prefix+key.
// Blob age is the object's LastModified: let a lifecycle rule on the
// prefix expire objects after the namespace's retention.
type S3 struct {
	cfg    S3Config
	client *s3.Client
}

// NewS3 returns a backend for cfg. It does not reach the store; Check does.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 blob store: no bucket")
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: AWS configuration: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		// S3-compatible stores do not all take the newer flexible
		// checksums; the driver checks every blob's sha256 itself.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{cfg: cfg, client: client}, nil
}

func (s *S3) where() string {
	w := "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
	if s.cfg.Endpoint != "" {
		w += " at " + s.cfg.Endpoint
	}
	return w
}

// Check reaches the bucket, so that a worker with a wrong bucket, endpoint
// or credentials fails at start and not at its first large value.
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)}); err != nil {
		return fmt.Errorf("s3 blob store %s: %w", s.where(), err)
	}
	return nil
}

// Put implements Backend.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.cfg.Prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String("application/x-protobuf"),
	})
	if err != nil {
		return fmt.Errorf("s3 blob store %s: put %s: %w", s.where(), key, err)
	}
	return nil
}

// Get implements Backend.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.cfg.Prefix + key),
	})
	if err != nil {
		var nsk *types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &api) && api.ErrorCode() == "NotFound") {
			return nil, fmt.Errorf("%w: %s (s3 blob store %s)", ErrNotFound, key, s.where())
		}
		return nil, fmt.Errorf("s3 blob store %s: get %s: %w", s.where(), key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}
