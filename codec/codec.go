package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Payload metadata a Codec writes. The names follow Temporal's encryption
// sample, so tools that know it recognise the payloads.
const (
	// Encoding is the "encoding" metadata of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that encrypted the payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher, for whoever reads the payload later.
	MetadataCipher = "encryption-cipher"
	// Cipher is MetadataCipher's value.
	Cipher = "AES-256-GCM"
)

// ErrUnknownKey is wrapped by Decode's error for a payload encrypted with a
// key the Codec does not hold.
var ErrUnknownKey = errors.New("unknown key")

// Codec is a converter.PayloadCodec that encrypts payloads with AES-256-GCM.
// Each payload is the original payload (metadata and data, protobuf-encoded)
// sealed under a random 96-bit nonce, with the key id as additional data.
// Safe for concurrent use.
type Codec struct {
	current string
	ids     []string
	aeads   map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New makes a Codec that encrypts with keys[0] and decrypts with any of
// keys.
func New(keys ...Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: no keys")
	}
	c := &Codec{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("codec: key id %q is given twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
		c.ids = append(c.ids, k.ID)
	}
	return c, nil
}

// CurrentKey is the id of the key that encrypts.
func (c *Codec) CurrentKey() string { return c.current }

// KeyIDs are the ids of every key the Codec decrypts with, the current first.
func (c *Codec) KeyIDs() []string { return append([]string(nil), c.ids...) }

// IsEncrypted says whether p is a payload a Codec wrote.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == Encoding
}

// Encode encrypts each payload with the current key. A payload already
// encrypted passes unchanged, so encoding twice does no harm.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if IsEncrypted(p) {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: encode payload: %w", err)
		}
		sealed := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(sealed); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		sealed = aead.Seal(sealed, sealed, plain, []byte(c.current))
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.current),
				MetadataCipher:             []byte(Cipher),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload with the key it names. Payloads
// that are not encrypted pass unchanged, so histories written before the
// codec was turned on stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload encrypted with key %q, which is not one of the keys held (%s): %w",
				id, strings.Join(c.ids, ", "), ErrUnknownKey)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: payload with key %q is %d bytes, too short to be AES-GCM ciphertext", id, len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload with key %q does not decrypt: the key with that id differs from the one that encrypted it, or the payload was altered", id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("codec: decrypted payload with key %q: %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is the SDK's default data converter with pc applied to every
// payload: what client.Options.DataConverter takes.
func DataConverter(pc converter.PayloadCodec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), pc)
}

// FailureConverter moves failure messages and stack traces (which can quote
// a tool's output or a model's answer) into an encoded payload through dc,
// leaving "Encoded failure" in their place; error types stay readable. What
// client.Options.FailureConverter takes, with dc from DataConverter.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}
