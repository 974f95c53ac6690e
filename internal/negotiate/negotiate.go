// Package negotiate reads what HTTP clients accept: the content coding
// negotiation shared by the API and the dashboard's file server.
package negotiate

import (
	"strconv"
	"strings"
)

// AcceptsGzip reports whether an Accept-Encoding header allows gzip: it
// names gzip with no q or a q above 0. ("*" is not taken as gzip: clients
// that send it alone are rare and may not decode.)
func AcceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}
