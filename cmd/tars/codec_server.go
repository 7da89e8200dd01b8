package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-engine/tars/codec"
)

func init() { extraCommands = append(extraCommands, newCodecServerCmd) }

// codecServerFlags are tars codec-server's own settings.
type codecServerFlags struct {
	ip         string
	port       int
	origins    []string
	auth       string
	namespaces []string
	certFile   string
	keyFile    string
	newKey     string
}

func newCodecServerCmd(g *globals) *cobra.Command {
	var f codecServerFlags
	c := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve Temporal's codec server protocol with the payload keys, for the Web UI and key-less CLIs",
		Long: `Decodes (and encodes) payloads for whoever may see plain values, with the keys
of --codec-key-file or TARS_CODEC_KEYS, over Temporal's codec server protocol:
POST /encode and /decode with {"payloads": [...]} in proto JSON, the namespace
in X-Namespace. GET /healthz answers 200.

The Temporal Web UI calls it from the browser: give the UI's origin with
--ui-origin (the CORS preflight allows X-Namespace, Content-Type and
Authorization, with credentials) and point the UI at it (tars dev
--ui-codec-endpoint URL, or the UI server's codec.endpoint setting, or the
UI's Data Encoder settings). tars and temporal commands use it with
--codec-endpoint URL (and --codec-auth).

Anyone who can reach it can decode: keep it on loopback, or require an
Authorization header with --auth and serve HTTPS with --tls-cert-file and
--tls-key-file. Make a key with --new-key ID.`,
		Example: `  tars codec-server --new-key k1 > ~/.tars/codec.keys && chmod 600 ~/.tars/codec.keys
  tars codec-server --codec-key-file ~/.tars/codec.keys
  tars dev --codec-key-file ~/.tars/codec.keys --ui-codec-endpoint http://127.0.0.1:8081
  tars trace RUN_ID --codec-endpoint http://127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if f.newKey != "" {
				k, err := codec.NewKey(f.newKey)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, k.String())
				return nil
			}
			if f.auth == "" {
				f.auth = os.Getenv("TARS_CODEC_SERVER_AUTH")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := startCodecServer(g, f, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.close()
			fmt.Fprintf(out, "tars codec-server ready\n  endpoint  %s (keys %s; %s encrypts)\n  origins   %s\n", s.url, strings.Join(s.codec.KeyIDs(), ", "), s.codec.CurrentKey(), strings.Join(f.origins, " "))
			fmt.Fprintf(out, "  web ui    tars dev --ui-codec-endpoint %s, or the UI's codec.endpoint setting\n  cli       --codec-endpoint %s\n", s.url, s.url)
			select {
			case <-ctx.Done():
			case err := <-s.failed:
				return err
			}
			fmt.Fprintln(out, "stopping")
			return nil
		},
	}
	c.Flags().StringVar(&f.ip, "ip", "127.0.0.1", "address to listen on")
	c.Flags().IntVar(&f.port, "port", 8081, "port to listen on (0: a free one)")
	c.Flags().StringArrayVar(&f.origins, "ui-origin", []string{"http://localhost:8233", "http://127.0.0.1:8233"}, "browser origin of the Web UI allowed to call (repeatable; scheme://host:port)")
	c.Flags().StringVar(&f.auth, "auth", "", "require this exact Authorization header value, e.g. 'Bearer TOKEN' (env TARS_CODEC_SERVER_AUTH)")
	c.Flags().StringArrayVar(&f.namespaces, "allow-namespace", nil, "answer only requests for this namespace (X-Namespace; repeatable; default any)")
	c.Flags().StringVar(&f.certFile, "tls-cert-file", "", "serve HTTPS with this certificate (with --tls-key-file)")
	c.Flags().StringVar(&f.keyFile, "tls-key-file", "", "serve HTTPS with this key")
	c.Flags().StringVar(&f.newKey, "new-key", "", "print a new random key line ID:base64 for a key file, and exit")
	return c
}

// codecServer is a running codec server.
type codecServer struct {
	url    string
	codec  *codec.Codec
	srv    *http.Server
	failed chan error
}

func (s *codecServer) close() { _ = s.srv.Close() }

// startCodecServer listens and serves in the background.
func startCodecServer(g *globals, f codecServerFlags, warn io.Writer) (*codecServer, error) {
	pc, err := g.payloadCodec()
	if err != nil {
		return nil, err
	}
	c, ok := pc.(*codec.Codec)
	if !ok {
		return nil, errors.New("codec-server needs the keys: --codec-key-file FILE or TARS_CODEC_KEYS (make one with tars codec-server --new-key ID)")
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, errors.New("--tls-cert-file and --tls-key-file go together")
	}
	scheme := "http"
	if f.certFile != "" {
		scheme = "https"
	}
	if ip := net.ParseIP(f.ip); ip == nil || !ip.IsLoopback() {
		if f.auth == "" || scheme == "http" {
			fmt.Fprintf(warn, "warning: --ip %s: the codec server decrypts for anyone who reaches it; set --auth and --tls-cert-file/--tls-key-file\n", f.ip)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(f.ip, strconv.Itoa(f.port)))
	if err != nil {
		return nil, fmt.Errorf("codec server: %w", err)
	}
	s := &codecServer{
		url:    scheme + "://" + ln.Addr().String(),
		codec:  c,
		failed: make(chan error, 1),
		srv: &http.Server{
			Handler:           codec.Handler(c, codec.ServerOptions{Origins: f.origins, Auth: f.auth, Namespaces: f.namespaces}),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() {
		var err error
		if scheme == "https" {
			err = s.srv.ServeTLS(ln, f.certFile, f.keyFile)
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("codec server: %w", err)
		}
	}()
	return s, nil
}
