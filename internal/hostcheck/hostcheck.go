// Package hostcheck decides which Host headers a local HTTP server answers,
// so that a web page whose DNS name is rebound to 127.0.0.1 cannot read or
// drive it through the victim's browser.
package hostcheck

import (
	"net"
	"net/url"
	"strings"
)

// Allowed says which Host headers a server listening on listenIP answers:
// localhost (and *.localhost), loopback addresses, the address it listens
// on, any IP address when it listens on all of them (0.0.0.0, ::), and the
// names in extra. An IP literal cannot be rebound, so naming the server by
// address is always safe.
func Allowed(listenIP string, extra []string) func(host string) bool {
	names := map[string]bool{"localhost": true}
	for _, n := range extra {
		names[strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	lip := net.ParseIP(listenIP)
	allIPs := lip != nil && lip.IsUnspecified()
	return func(hostport string) bool {
		host := hostport
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if names[host] || strings.HasSuffix(host, ".localhost") {
			return true
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return false
		}
		return ip.IsLoopback() || allIPs || (lip != nil && ip.Equal(lip))
	}
}

// SameOrigin reports whether an Origin header names the host the request
// was sent to (or is absent: not a cross-origin browser request).
func SameOrigin(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" and other opaque origins
	}
	return strings.EqualFold(u.Host, host)
}
