package executor

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

func TestGuardClassify(t *testing.T) {
	tests := []struct {
		addr   string
		reason string // "" means public, allowed
	}{
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"127.0.0.1", "loopback"},
		{"127.9.9.9", "loopback"},
		{"::1", "loopback"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"169.254.169.254", "link-local"},
		{"100.64.0.1", "shared address space (CGNAT, 100.64.0.0/10)"},
		{"100.127.255.254", "shared address space (CGNAT, 100.64.0.0/10)"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", `"this network" (0.0.0.0/8)`},
		{"::", "unspecified"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved (240.0.0.0/4)"},
		{"192.0.2.1", "documentation (192.0.2.0/24)"},
		{"2001:db8::1", "documentation (2001:db8::/32)"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"64:ff9b::a00:1", "private (10.0.0.1 via NAT64)"},
		{"2002:a9fe:a9fe::1", "link-local (169.254.169.254 via 6to4)"},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.1", ""},
		{"172.32.0.1", ""},
		{"2001:4860::8888", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := guardClassify(netip.MustParseAddr(tt.addr))
			if got != tt.reason {
				t.Errorf("guardClassify(%s) = %q, want %q", tt.addr, got, tt.reason)
			}
		})
	}
}

func TestParseAllowHosts(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr string
	}{
		{list: "", want: nil},
		{list: " , ,", want: nil},
		{list: "127.0.0.1", want: []string{"127.0.0.1"}},
		{list: "Hooks.Internal., 10.0.0.0/8 ,::1, fd00::/8", want: []string{"hooks.internal", "10.0.0.0/8", "::1", "fd00::/8"}},
		{list: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{list: "localhost,my_host.lan", want: []string{"localhost", "my_host.lan"}},
		{list: "10.0.0.0/33", wantErr: `allowed host "10.0.0.0/33": not a valid CIDR block`},
		{list: "ok.example, http://x.example", wantErr: `allowed host "http://x.example"`},
		{list: "x.example:8080", wantErr: "without scheme, port or wildcard"},
		{list: "*.example.com", wantErr: "without scheme, port or wildcard"},
		{list: "-bad.example", wantErr: "expected a hostname"},
		{list: "fe80::1%eth0", wantErr: "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			got, err := ParseAllowHosts(tt.list)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAllowHosts(%q) error = %v, want one containing %q", tt.list, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAllowHosts(%q): %v", tt.list, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseAllowHosts(%q) = %q, want %q", tt.list, got, tt.want)
			}
		})
	}
}

func TestGuardListCheck(t *testing.T) {
	g := guardNewList([]string{"10.0.0.0/8", "192.168.1.7", "Hooks.Internal", "not a host"})
	tests := []struct {
		host, ip string
		allowed  bool
		msg      string
	}{
		{"10.9.9.9", "10.9.9.9", true, ""},
		{"x.example", "::ffff:10.1.1.1", true, ""},
		{"192.168.1.7", "192.168.1.7", true, ""},
		{"192.168.1.8", "192.168.1.8", false,
			"outbound address 192.168.1.8 is not allowed: private (allow it with --allow-hosts 192.168.1.8 or WEFT_ALLOW_HOSTS)"},
		{"127.0.0.1", "127.0.0.1", false,
			"outbound address 127.0.0.1 is not allowed: loopback (allow it with --allow-hosts 127.0.0.1 or WEFT_ALLOW_HOSTS)"},
		{"db.example", "172.16.0.5", false,
			`outbound address 172.16.0.5 of host "db.example" is not allowed: private (allow it with --allow-hosts db.example or WEFT_ALLOW_HOSTS)`},
		{"x.example", "93.184.216.34", true, ""},
	}
	for _, tt := range tests {
		err := g.check(tt.host, netip.MustParseAddr(tt.ip))
		if tt.allowed {
			if err != nil {
				t.Errorf("check(%s, %s) = %v, want allowed", tt.host, tt.ip, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.msg || weft.ErrorCode(err) != weft.CodeInvalid || weft.IsRetryable(err) {
			t.Errorf("check(%s, %s) = %v (code %s), want %q with code invalid", tt.host, tt.ip, err, weft.ErrorCode(err), tt.msg)
		}
	}
	if !g.hostAllowed("hooks.internal.") || !g.hostAllowed("HOOKS.internal") || g.hostAllowed("other.internal") {
		t.Error("hostAllowed does not match hostnames exactly, ignoring case")
	}
}

// TestNewHTTPClientDial dials a local server only (no outside network): a
// literal loopback address, a hostname resolving to it (DNS cannot smuggle
// a refused address in), and the allow-list entries that admit it.
func TestNewHTTPClientDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	byIP := srv.URL
	byName := "http://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)

	tests := []struct {
		name  string
		allow []string
		url   string
		want  string // "" for success, else a substring of the error
	}{
		{"loopback refused by default", nil, byIP, "outbound address 127.0.0.1 is not allowed: loopback"},
		{"hostname resolving to loopback refused", nil, byName, `of host "localhost" is not allowed: loopback`},
		{"allowed by IP", []string{"127.0.0.1"}, byIP, ""},
		{"allowed by CIDR", []string{"127.0.0.0/8"}, byIP, ""},
		{"allowed by hostname", []string{"LOCALHOST"}, byName, ""},
		{"hostname entry does not admit the IP", []string{"localhost"}, byIP, "not allowed: loopback"},
		{"other entries do not admit it", []string{"10.0.0.0/8", "example.com"}, byIP, "not allowed: loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tt.url, nil)
			resp, err := NewHTTPClient(tt.allow, 5*time.Second).Do(req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("GET %s: %v", tt.url, err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s succeeded, want refused", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) || weft.ErrorCode(err) != weft.CodeInvalid {
				t.Errorf("GET %s: error %v (code %s), want code invalid containing %q", tt.url, err, weft.ErrorCode(err), tt.want)
			}
		})
	}
}

func TestGuardCheckRedirect(t *testing.T) {
	mk := func(raw string) *http.Request {
		u, _ := url.Parse(raw)
		return &http.Request{URL: u, Header: http.Header{
			"X-Api-Key": {"k"}, "Authorization": {"a"}, "Content-Type": {"application/json"}, "Idempotency-Key": {"r/s"},
		}}
	}
	first := mk("http://a.example/x")
	same := mk("http://A.example/y")
	if err := guardCheckRedirect(same, []*http.Request{first}); err != nil || same.Header.Get("X-Api-Key") == "" {
		t.Errorf("same-host redirect: err %v, headers %v; want kept", err, same.Header)
	}
	other := mk("http://b.example/y")
	if err := guardCheckRedirect(other, []*http.Request{first}); err != nil {
		t.Fatal(err)
	}
	if other.Header.Get("X-Api-Key") != "" || other.Header.Get("Authorization") != "" ||
		other.Header.Get("Idempotency-Key") != "r/s" || other.Header.Get("Content-Type") == "" {
		t.Errorf("cross-host redirect headers = %v, want credentials dropped and the rest kept", other.Header)
	}
	via := make([]*http.Request, guardMaxRedirects+1)
	for i := range via {
		via[i] = first
	}
	if err := guardCheckRedirect(same, via[:guardMaxRedirects]); err != nil {
		t.Errorf("redirect %d refused: %v", guardMaxRedirects, err)
	}
	if err := guardCheckRedirect(same, via); err == nil || weft.ErrorCode(err) != weft.CodeInvalid {
		t.Errorf("redirect %d: %v, want refused with code invalid", guardMaxRedirects+1, err)
	}
}
