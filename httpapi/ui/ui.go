// Package ui is weft's web dashboard: plain HTML, CSS and JavaScript
// modules, embedded in the binary and served by the HTTP API at "/" (the
// page) and "/ui/" (its assets). There is no front-end build step: the
// files under static/ are what the browser runs.
//
// The dashboard reads everything through the JSON API (/api/v1/...), so the
// files themselves hold no data and are served without the API's bearer
// token; the page asks for the token when the API answers 401 and keeps it
// in the browser session (sessionStorage).
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/weft-dev/weft/internal/negotiate"
)

//go:embed static
var files embed.FS

// ContentSecurityPolicy is sent with every file: the page loads only its
// own scripts and styles and talks only to its own origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body, gz []byte // gz is nil when compressing does not pay
	etag     string
	ctype    string
}

// Handler serves the dashboard. Create one with New.
type Handler struct {
	assets map[string]*asset // by URL path: "/" and "/ui/..."
}

// New returns the dashboard's handler. It serves GET and HEAD of "/" and
// of the files under "/ui/"; anything else answers 404 (or 405 for other
// methods). It returns an error only if the embedded files cannot be read,
// which is a build defect.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		a, err := newAsset(p, body)
		if err != nil {
			return err
		}
		url := "/ui/" + strings.TrimPrefix(p, "static/")
		h.assets[url] = a
		if url == "/ui/index.html" {
			h.assets["/"] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: reading the embedded files: %w", err)
	}
	if h.assets["/"] == nil {
		return nil, fmt.Errorf("ui: index.html is not embedded")
	}
	return h, nil
}

// newAsset prepares a file: its type, validator and compressed form.
func newAsset(name string, body []byte) (*asset, error) {
	sum := sha256.Sum256(body)
	a := &asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: contentType(name)}
	if len(body) > 1024 {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if b.Len() < len(body)*9/10 {
			a.gz = b.Bytes()
		}
	}
	return a, nil
}

// contentType returns the media type of a file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// ServeHTTP serves a file of the dashboard. Files are revalidated on every
// load (Cache-Control: no-cache with an ETag), so that a new server
// version's dashboard is never mixed with an old one's cached modules.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.assets[r.URL.Path]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && negotiate.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header lists etag (or "*").
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
