package activities

import (
	"net"
	"net/url"
	"strings"
)

// HostAllowed reports whether u's host is one of patterns, as
// policy.grants.http_hosts and a worker's ceiling write them: a host name
// or IP ("api.example.com", "127.0.0.1": any port), a host and port
// ("127.0.0.1:8080"; an absent port is the scheme's, 80 or 443), an IPv6
// literal ("[::1]", "[::1]:8080"), or "*.example.com" for every subdomain
// of example.com (not example.com itself). Matching ignores case.
func HostAllowed(patterns []string, u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	hostPort := net.JoinHostPort(host, port)
	for _, p := range patterns {
		p = normalHost(p)
		switch {
		case p == "":
		case p == host, p == hostPort, p == strings.ToLower(u.Host):
			return true
		case strings.HasPrefix(p, "*.") && strings.HasSuffix(host, p[1:]):
			return true
		case strings.HasPrefix(p, "["):
			h, pp := splitPattern(p)
			if ip := net.ParseIP(h); ip != nil && ip.Equal(net.ParseIP(host)) && (pp == "" || pp == port) {
				return true
			}
		}
	}
	return false
}

// hostCovers reports whether pattern p allows everything pattern q does:
// the same pattern, a host without port covering that host on any port,
// or "*.s" covering every name and wildcard under s.
func hostCovers(p, q string) bool {
	p, q = normalHost(p), normalHost(q)
	if p == "" || q == "" {
		return false
	}
	if p == q {
		return true
	}
	ph, pport := splitPattern(p)
	qh, qport := splitPattern(q)
	if pport != "" && pport != qport {
		return false
	}
	if strings.HasPrefix(ph, "*.") {
		return strings.HasSuffix(strings.TrimPrefix(qh, "*"), ph[1:]) && qh != ph[2:]
	}
	return ph == qh && !strings.HasPrefix(qh, "*.")
}

func normalHost(p string) string { return strings.ToLower(strings.TrimSpace(p)) }

// splitPattern splits "host:port" or "[v6]:port" into host and port ("" if
// none); an IPv6 host comes back without brackets.
func splitPattern(p string) (host, port string) {
	if h, pt, err := net.SplitHostPort(p); err == nil {
		return h, pt
	}
	return strings.Trim(p, "[]"), ""
}
