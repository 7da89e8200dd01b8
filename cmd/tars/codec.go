package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/tars-engine/tars/codec"
)

// codecFlags say how payloads are encoded: with keys held here
// (--codec-key-file, TARS_CODEC_KEYS) or through a remote codec server
// (--codec-endpoint, as Temporal's CLI). The endpoint and its auth live in
// the connection profile (globals.conn.Codec), as envconfig has them.
type codecFlags struct {
	keyFile  string
	endpoint string
	auth     string
}

// fileCodec is the codec section of the TARS YAML config file.
type fileCodec struct {
	KeyFile  string `yaml:"key_file"`
	Endpoint string `yaml:"endpoint"`
	Auth     string `yaml:"auth"`
}

func (cf *codecFlags) register(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&cf.keyFile, "codec-key-file", "", "encrypt payloads (AES-256-GCM) with the keys of this file, lines of id:base64key, the first encrypting (env TARS_CODEC_KEY_FILE, or the keys themselves in TARS_CODEC_KEYS; docs/deploy.md#payload-encryption)")
	f.StringVar(&cf.endpoint, "codec-endpoint", "", "encode and decode payloads through this remote codec server, e.g. http://127.0.0.1:8081 (env TEMPORAL_CODEC_ENDPOINT)")
	f.StringVar(&cf.auth, "codec-auth", "", "Authorization header value sent to --codec-endpoint (env TEMPORAL_CODEC_AUTH)")
}

// resolveCodec layers the codec settings into prof (endpoint, auth: flags
// over environment over the TARS config file over the profile) and picks
// the key file (flag, TARS_CODEC_KEY_FILE, config file).
func (cf *codecFlags) resolve(fc *fileCodec, prof *envconfig.ClientConfigProfile) {
	if cf.keyFile == "" {
		cf.keyFile = os.Getenv("TARS_CODEC_KEY_FILE")
	}
	if fc != nil && cf.keyFile == "" {
		cf.keyFile = fc.KeyFile
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	var endpoint, auth string
	if prof.Codec != nil {
		endpoint, auth = prof.Codec.Endpoint, prof.Codec.Auth
	}
	if fc != nil && os.Getenv("TEMPORAL_CODEC_ENDPOINT") == "" {
		set(&endpoint, fc.Endpoint)
	}
	if fc != nil && os.Getenv("TEMPORAL_CODEC_AUTH") == "" {
		set(&auth, fc.Auth)
	}
	set(&endpoint, cf.endpoint)
	set(&auth, cf.auth)
	if endpoint != "" || auth != "" {
		prof.Codec = &envconfig.ClientConfigCodec{Endpoint: endpoint, Auth: auth}
	}
}

// payloadCodec is the codec every client of this process uses, nil when
// payloads travel plain. Keys here and a remote endpoint together are an
// error: which one encrypts would be a guess.
func (g *globals) payloadCodec() (converter.PayloadCodec, error) {
	keys := os.Getenv("TARS_CODEC_KEYS")
	var endpoint, auth string
	if g.conn.Codec != nil {
		endpoint, auth = g.conn.Codec.Endpoint, g.conn.Codec.Auth
	}
	if (g.codec.keyFile != "" || keys != "") && endpoint != "" {
		return nil, fmt.Errorf("codec: keys (--codec-key-file or TARS_CODEC_KEYS) and --codec-endpoint %s are both set: use one", endpoint)
	}
	if g.codec.keyFile != "" && keys != "" {
		return nil, fmt.Errorf("codec: --codec-key-file %s and TARS_CODEC_KEYS are both set: use one", g.codec.keyFile)
	}
	switch {
	case g.codec.keyFile != "":
		ks, err := codec.ReadKeyFile(g.codec.keyFile)
		if err != nil {
			return nil, err
		}
		return codec.New(ks...)
	case keys != "":
		ks, err := codec.ParseKeys(keys, "TARS_CODEC_KEYS")
		if err != nil {
			return nil, err
		}
		return codec.New(ks...)
	case endpoint != "":
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--codec-endpoint %q: want an http:// or https:// URL", endpoint)
		}
		ns := g.namespace
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: strings.TrimSuffix(endpoint, "/"),
			Client:   http.Client{Timeout: 30 * time.Second},
			ModifyRequest: func(r *http.Request) error {
				r.Header.Set("X-Namespace", ns)
				if auth != "" {
					r.Header.Set("Authorization", auth)
				}
				return nil
			},
		}), nil
	}
	return nil, nil
}

// applyCodec sets the client's data and failure converters to pc's and
// decodes the histories and descriptions it reads (for traces, exports and
// status), so that every command sees plain values.
func applyCodec(opts *client.Options, pc converter.PayloadCodec) {
	if pc == nil {
		return
	}
	dc := codec.DataConverter(pc)
	opts.DataConverter = dc
	opts.FailureConverter = codec.FailureConverter(dc)
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions,
		grpc.WithChainUnaryInterceptor(codec.DecodingInterceptor(pc)))
}

// decodeHistoryFile decodes a history read from a file (exported raw) with
// the configured codec, if any.
func (g *globals) decodeHistoryFile(ctx context.Context, h *historypb.History) error {
	pc, err := g.payloadCodec()
	if err != nil || pc == nil {
		return err
	}
	if err := codec.DecodeHistory(ctx, pc, h); err != nil {
		if errors.Is(err, codec.ErrUnknownKey) {
			return fmt.Errorf("%w (the file was written under a key this codec does not hold)", err)
		}
		return err
	}
	return nil
}

// withCodecHint adds what to do to an error about a payload this process
// could not decode because it is encrypted and no codec is configured.
func withCodecHint(err error) error {
	if err == nil || !errors.Is(err, converter.ErrEncodingIsNotSupported) || !strings.Contains(err.Error(), codec.Encoding) {
		return err
	}
	return fmt.Errorf("%w\nthe run's payloads are encrypted: give the key (--codec-key-file FILE or TARS_CODEC_KEYS) or a codec server (--codec-endpoint URL)", err)
}
