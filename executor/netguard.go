package executor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/weft-dev/weft"
)

// The outbound allow-list (DESIGN.md section 5). Steps that reach out over
// HTTP (the output step's webhook) may reach public addresses; loopback,
// private, link-local, CGNAT and other non-public addresses are refused
// unless the operator allows them. The check is made on the resolved
// address, in the dialer, for every connection: DNS cannot smuggle a private
// address in, and redirects are checked the same way because they dial
// through the same transport.

// guardMaxRedirects is the most redirects a client from NewHTTPClient
// follows.
const guardMaxRedirects = 5

// guardRange is a block of addresses that is not public, with the reason
// shown when an address in it is refused.
type guardRange struct {
	prefix netip.Prefix
	reason string
}

// guardRanges lists the non-public blocks that the netip predicates do not
// already cover (RFC 6890 and its updates). IPv4-mapped, NAT64 and 6to4
// IPv6 addresses are classified by the IPv4 address they embed.
var guardRanges = func() []guardRange {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "\"this network\" (0.0.0.0/8)"},
		{"100.64.0.0/10", "shared address space (CGNAT, 100.64.0.0/10)"},
		{"192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"},
		{"192.0.2.0/24", "documentation (192.0.2.0/24)"},
		{"198.18.0.0/15", "benchmarking (198.18.0.0/15)"},
		{"198.51.100.0/24", "documentation (198.51.100.0/24)"},
		{"203.0.113.0/24", "documentation (203.0.113.0/24)"},
		{"240.0.0.0/4", "reserved (240.0.0.0/4)"},
		{"100::/64", "discard-only (100::/64)"},
		{"2001::/23", "IETF protocol assignments (2001::/23)"},
		{"2001:db8::/32", "documentation (2001:db8::/32)"},
		{"fec0::/10", "site-local (fec0::/10)"},
		{"64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"},
	}
	out := make([]guardRange, len(list))
	for i, r := range list {
		out[i] = guardRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

var (
	guardNAT64 = netip.MustParsePrefix("64:ff9b::/96")
	guard6to4  = netip.MustParsePrefix("2002::/16")
)

// guardClassify returns why ip is not a public address, or "" when it is.
func guardClassify(ip netip.Addr) string {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return "not a valid address"
	}
	if ip.Is4In6() {
		return guardClassify(ip.Unmap())
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case guardNAT64.Contains(ip):
			return guardEmbedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64")
		case guard6to4.Contains(ip):
			return guardEmbedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
		}
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, r := range guardRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

// guardEmbedded classifies an IPv4 address carried inside an IPv6 one.
func guardEmbedded(v4 netip.Addr, via string) string {
	if reason := guardClassify(v4); reason != "" {
		return reason + " (" + v4.String() + " via " + via + ")"
	}
	return ""
}

// ParseAllowHosts parses a comma-separated allow-list, as given to
// --allow-hosts or WEFT_ALLOW_HOSTS, into entries for Config.AllowHosts and
// NewHTTPClient. Each entry is a hostname (matched exactly, ignoring case,
// on the URL's host before resolution, so an allowed hostname may resolve to
// private addresses), an IP address or a CIDR block (matched on the resolved
// address). Spaces around entries and empty entries are ignored. Hostnames
// are lower-cased and CIDR blocks masked. It returns an error naming the
// first malformed entry.
func ParseAllowHosts(list string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		entry, err := guardParseEntry(item)
		if err != nil {
			return nil, err
		}
		out = append(out, entry)
	}
	return out, nil
}

// guardParseEntry validates and normalizes one allow-list entry.
func guardParseEntry(s string) (string, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("allowed host %q: not a valid CIDR block such as 10.0.0.0/8 or fd00::/8", s)
		}
		return p.Masked().String(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("allowed host %q: an address with a zone cannot be allowed; write it without %%%s", s, ip.Zone())
		}
		return ip.String(), nil
	}
	if !guardValidHostname(s) {
		return "", fmt.Errorf("allowed host %q: expected a hostname (such as api.internal), an IP address or a CIDR block, without scheme, port or wildcard", s)
	}
	return strings.ToLower(strings.TrimSuffix(s, ".")), nil
}

// guardValidHostname reports whether s is a DNS name: dot-separated labels
// of 1 to 63 letters, digits, '-' and '_', at most 253 bytes, with an
// optional trailing dot.
func guardValidHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// guardList is a parsed allow-list.
type guardList struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

// guardNewList builds an allow-list from entries; malformed entries are
// ignored (ParseAllowHosts reports them).
func guardNewList(entries []string) *guardList {
	g := &guardList{hosts: make(map[string]bool)}
	for _, e := range entries {
		entry, err := guardParseEntry(strings.TrimSpace(e))
		if err != nil {
			continue
		}
		if p, err := netip.ParsePrefix(entry); err == nil {
			g.prefixes = append(g.prefixes, p)
		} else if ip, err := netip.ParseAddr(entry); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			g.hosts[entry] = true
		}
	}
	return g
}

// hostAllowed reports whether the URL host name is allowed as such.
func (g *guardList) hostAllowed(host string) bool {
	return g.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// check returns an error with code invalid when ip may not be dialed for
// host, or nil.
func (g *guardList) check(host string, ip netip.Addr) error {
	ip = ip.WithZone("")
	for _, p := range g.prefixes {
		if p.Contains(ip) || (ip.Is4In6() && p.Contains(ip.Unmap())) {
			return nil
		}
	}
	reason := guardClassify(ip)
	if reason == "" {
		return nil
	}
	if hostIP, err := netip.ParseAddr(host); err == nil && hostIP.WithZone("") == ip {
		return weft.Errorf(weft.CodeInvalid,
			"outbound address %s is not allowed: %s (allow it with --allow-hosts %s or WEFT_ALLOW_HOSTS)", ip, reason, ip)
	}
	return weft.Errorf(weft.CodeInvalid,
		"outbound address %s of host %q is not allowed: %s (allow it with --allow-hosts %s or WEFT_ALLOW_HOSTS)", ip, host, reason, host)
}

// guardDialer dials only addresses the allow-list admits.
type guardDialer struct {
	list     *guardList
	dialer   *net.Dialer
	resolver *net.Resolver
}

// DialContext resolves the host of addr, checks every address it resolves
// to, and dials the checked addresses in turn (never resolving again). A
// hostname on the allow-list is dialed as is.
func (d *guardDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if d.list.hostAllowed(host) {
		return d.dialer.DialContext(ctx, network, addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ipNet := "ip"
		switch network {
		case "tcp4":
			ipNet = "ip4"
		case "tcp6":
			ipNet = "ip6"
		}
		ips, err = d.resolver.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	for _, ip := range ips {
		if err := d.list.check(host, ip); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, ip := range ips {
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errs[0]
}

// NewHTTPClient returns an HTTP client for outbound requests made by steps.
// Its dialer refuses non-public addresses (loopback, private, link-local,
// CGNAT, multicast, unspecified, documentation and other reserved blocks)
// unless allow admits them, checking the resolved address of every
// connection, redirects included. allow holds entries as returned by
// ParseAllowHosts; malformed entries match nothing. The client follows at
// most 5 redirects and, when a redirect leaves the original host, drops the
// request headers other than Accept, Content-Type, User-Agent and
// Idempotency-Key (they may hold credentials). It ignores HTTP_PROXY and
// friends: a proxy would dial the target itself, past the allow-list. A
// timeout of zero means no overall limit (use a context deadline instead).
func NewHTTPClient(allow []string, timeout time.Duration) *http.Client {
	gd := &guardDialer{
		list:     guardNewList(allow),
		dialer:   &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		resolver: net.DefaultResolver,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = gd.DialContext
	tr.DialTLSContext = nil
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: guardCheckRedirect,
	}
}

// guardCheckRedirect caps redirects and keeps credentials to the original
// host.
func guardCheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > guardMaxRedirects {
		return weft.Errorf(weft.CodeInvalid, "stopped after %d redirects", guardMaxRedirects)
	}
	if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		for name := range req.Header {
			switch http.CanonicalHeaderKey(name) {
			case "Accept", "Content-Type", "User-Agent", "Idempotency-Key":
			default:
				req.Header.Del(name)
			}
		}
	}
	return nil
}
