package tracepage

import "net/http"

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
