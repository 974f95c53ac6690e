package ui_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/weft-dev/weft/httpapi/ui"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target string
		header               map[string]string
		status               int
		ctype                string
		body                 []byte // nil: not checked
	}{
		{"page", "GET", "/", nil, 200, "text/html; charset=utf-8", index},
		{"page file", "GET", "/ui/index.html", nil, 200, "text/html; charset=utf-8", index},
		{"module", "GET", "/ui/js/app.js", nil, 200, "text/javascript; charset=utf-8", nil},
		{"style", "GET", "/ui/style.css", nil, 200, "text/css; charset=utf-8", nil},
		{"head", "HEAD", "/ui/js/dag.js", nil, 200, "text/javascript; charset=utf-8", []byte{}},
		{"missing", "GET", "/ui/js/nope.js", nil, 404, "", nil},
		{"outside", "GET", "/ui/../ui.go", nil, 404, "", nil},
		{"dir", "GET", "/ui/js/", nil, 404, "", nil},
		{"post", "POST", "/", nil, 405, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, h, tc.method, tc.target, tc.header)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body of %d bytes, want %d", len(body), len(tc.body))
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": ui.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Cache-Control":           "no-cache",
				"X-Frame-Options":         "DENY",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

// A browser revalidates with If-None-Match and gets 304 for an unchanged
// file; a client that takes gzip gets the same bytes compressed.
func TestHandlerCaching(t *testing.T) {
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	first := get(t, h, "GET", "/ui/js/dag.js", nil)
	plain, _ := io.ReadAll(first.Body)
	etag := first.Header.Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q: want a strong validator", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if res := get(t, h, "GET", "/ui/js/dag.js", map[string]string{"If-None-Match": inm}); res.StatusCode != 304 {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, res.StatusCode)
		}
	}
	if res := get(t, h, "GET", "/ui/js/dag.js", map[string]string{"If-None-Match": `"other"`}); res.StatusCode != 200 {
		t.Errorf("a stale ETag: status %d, want 200", res.StatusCode)
	}
	for _, ae := range []struct {
		header string
		gzip   bool
	}{{"gzip", true}, {"br, gzip;q=0.8", true}, {"gzip;q=0", false}, {"identity", false}, {"", false}} {
		res := get(t, h, "GET", "/ui/js/dag.js", map[string]string{"Accept-Encoding": ae.header})
		body, _ := io.ReadAll(res.Body)
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != ae.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", ae.header, got, ae.gzip)
			continue
		}
		if ae.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		}
		if !bytes.Equal(body, plain) {
			t.Errorf("Accept-Encoding %q: body differs from the file", ae.header)
		}
	}
}

// Every module the page loads exists: a relative import of a missing file
// would break the dashboard only in a browser.
func TestModuleGraph(t *testing.T) {
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	importRe := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]|^\s*\}\s*from\s+['"]([^'"]+)['"]`)
	refRe := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`)
	seen := map[string]bool{}
	var visit func(url string)
	visit = func(url string) {
		if seen[url] {
			return
		}
		seen[url] = true
		res := get(t, h, "GET", url, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d", url, res.StatusCode)
			return
		}
		if strings.HasSuffix(url, ".js") {
			for _, m := range importRe.FindAllStringSubmatch(string(body), -1) {
				spec := m[1] + m[2]
				if !strings.HasPrefix(spec, "./") {
					t.Errorf("%s imports %q: only relative imports of embedded modules are allowed", url, spec)
					continue
				}
				visit(path.Join(path.Dir(url), spec))
			}
		}
	}
	page := get(t, h, "GET", "/", nil)
	body, _ := io.ReadAll(page.Body)
	for _, m := range refRe.FindAllStringSubmatch(string(body), -1) {
		visit(m[1])
	}
	// Every embedded module is reachable from the page (no dead files).
	err = fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".js") && !seen["/ui/"+p] {
			t.Errorf("static/%s is not loaded by the page", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 5 {
		t.Fatalf("only %d files reached from the page: %v", len(seen), seen)
	}
}
