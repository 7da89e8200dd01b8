package activities

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One matcher for every pool (native http.request and model.chat, wasm
// tars.http_fetch) and for the worker's ceiling.
func TestHostAllowed(t *testing.T) {
	tests := []struct {
		url      string
		patterns []string
		want     bool
	}{
		{"https://api.example.com/x", []string{"api.example.com"}, true},
		{"https://API.Example.com/x", []string{"api.example.COM"}, true},
		{"https://API.example.com:8443/x", []string{"api.example.com"}, true},
		{"https://api.example.com/x", []string{"api.example.com:443"}, true},
		{"https://api.example.com/x", []string{"api.example.com:8443"}, false},
		{"http://127.0.0.1:8080/", []string{"127.0.0.1:8080"}, true},
		{"http://127.0.0.1:8081/", []string{"127.0.0.1:8080"}, false},
		{"https://a.b.example.com/", []string{"*.example.com"}, true},
		{"https://example.com/", []string{"*.example.com"}, false},
		{"https://evil-example.com/", []string{"*.example.com"}, false},
		{"https://example.com.evil.net/", []string{"example.com"}, false},
		{"http://[::1]:9000/", []string{"::1"}, true},
		{"http://[::1]:9000/", []string{"[::1]"}, true},
		{"http://[::1]:9000/", []string{"[::1]:9000"}, true},
		{"http://[::1]:9000/", []string{"[::1]:9001"}, false},
		{"https://api.example.com/", nil, false},
		{"https://api.example.com/", []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.want, HostAllowed(tt.patterns, u), "%v", tt.patterns)
		})
	}
}

func TestHostCovers(t *testing.T) {
	tests := []struct {
		ceiling, grant string
		want           bool
	}{
		{"api.example.com", "api.example.com", true},
		{"API.example.com", "api.example.com", true},
		{"api.example.com", "api.example.com:8443", true},
		{"api.example.com:443", "api.example.com", false},
		{"api.example.com:443", "api.example.com:443", true},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "*.eu.example.com", true},
		{"*.example.com", "*.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evil-example.com", false},
		{"api.example.com", "*.example.com", false},
		{"example.com", "*.example.com", false},
		{"127.0.0.1", "127.0.0.1:8080", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, hostCovers(tt.ceiling, tt.grant), "%q covers %q", tt.ceiling, tt.grant)
	}
}
