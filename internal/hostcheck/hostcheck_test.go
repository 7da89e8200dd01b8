package hostcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAllowed(t *testing.T) {
	loop := Allowed("127.0.0.1", []string{"traces.internal"})
	for _, h := range []string{"localhost", "localhost:8234", "127.0.0.1:8234", "[::1]:8234", "app.localhost", "traces.internal", "TRACES.internal.:80"} {
		assert.True(t, loop(h), h)
	}
	for _, h := range []string{"evil.example", "evil.example:8234", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.7:8234", ""} {
		assert.False(t, loop(h), h)
	}
	all := Allowed("0.0.0.0", nil)
	assert.True(t, all("10.0.0.7:8234"), "listening everywhere: any address literal (not rebindable)")
	assert.False(t, all("evil.example:8234"))
	one := Allowed("192.168.1.5", nil)
	assert.True(t, one("192.168.1.5:8234"))
	assert.False(t, one("192.168.1.6:8234"))
}

func TestSameOrigin(t *testing.T) {
	assert.True(t, SameOrigin("", "127.0.0.1:7243"), "no Origin: not a cross-origin browser request")
	assert.True(t, SameOrigin("http://127.0.0.1:7243", "127.0.0.1:7243"))
	assert.False(t, SameOrigin("http://evil.example", "127.0.0.1:7243"))
	assert.False(t, SameOrigin("http://127.0.0.1:8233", "127.0.0.1:7243"), "another port is another origin")
	assert.False(t, SameOrigin("null", "127.0.0.1:7243"))
}
