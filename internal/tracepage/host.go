package tracepage

import (
	"net"
	"net/http"
	"strings"
)

// hostGuard answers only requests whose Host header names this server: a
// page of another site that rebinds its DNS name to 127.0.0.1 reaches the
// listener, but its requests carry its own name, so they are refused.
type hostGuard struct {
	allow func(host string) bool
	next  http.Handler
}

func (h *hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.allow(r.Host) {
		http.Error(w, "host "+r.Host+" is not one this server answers to (allow it with --trace-host)", http.StatusMisdirectedRequest)
		return
	}
	h.next.ServeHTTP(w, r)
}

// AllowedHosts says which Host headers a server listening on listenIP
// answers: localhost (and *.localhost), loopback addresses, the address it
// listens on, any IP address of this machine when it listens on all of
// them (0.0.0.0, ::), and the names in extra. An IP literal cannot be
// rebound, so naming the server by address is always safe.
func AllowedHosts(listenIP string, extra []string) func(host string) bool {
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
