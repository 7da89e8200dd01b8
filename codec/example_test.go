package codec_test

import (
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/codec"
)

// A client (or the worker built on it) that encrypts every payload it
// writes and decrypts what it reads.
func Example() {
	keys, err := codec.ParseKeys("k2:"+
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=\n"+ // the current key: it encrypts
		"k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", // an older one: it still decrypts
		"example")
	if err != nil {
		panic(err)
	}
	c, err := codec.New(keys...)
	if err != nil {
		panic(err)
	}
	dc := codec.DataConverter(c)
	opts := client.Options{DataConverter: dc, FailureConverter: codec.FailureConverter(dc)}

	p, _ := opts.DataConverter.ToPayload("a prompt")
	fmt.Println(string(p.Metadata["encoding"]), string(p.Metadata[codec.MetadataKeyID]))
	var back string
	_ = opts.DataConverter.FromPayload(p, &back)
	fmt.Println(back)
	// Output:
	// binary/encrypted k2
	// a prompt
}
