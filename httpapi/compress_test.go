package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Large JSON answers are gzipped for clients that accept it, and only for
// them; small ones never are.
func TestGzipAnswers(t *testing.T) {
	h := newHarness(t, nil)
	var steps []string
	for i := range 300 {
		steps = append(steps, fmt.Sprintf(`"s%03d": {"type": "input", "input": {"data": {"n": %d}}}`, i, i))
	}
	big := h.startRun(inlineRun(`{"id": "big", "steps": {` + strings.Join(steps, ",") + `}}`))
	small := h.startRun(inlineRun(basicWorkflow))
	h.wait(big.RunID)
	h.wait(small.RunID)

	plain := h.do("GET", "/api/v1/runs/"+big.RunID, "", nil)
	if plain.status != 200 || plain.header.Get("Content-Encoding") != "" || !json.Valid(plain.body) {
		t.Fatalf("without Accept-Encoding: %d, encoding %q", plain.status, plain.header.Get("Content-Encoding"))
	}
	if len(plain.body) < 8<<10 {
		t.Fatalf("the big run's document is only %d bytes", len(plain.body))
	}
	z := h.do("GET", "/api/v1/runs/"+big.RunID, "", nil, "Accept-Encoding", "gzip")
	if z.header.Get("Content-Encoding") != "gzip" || !strings.Contains(z.header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("with Accept-Encoding gzip: encoding %q, vary %q", z.header.Get("Content-Encoding"), z.header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(z.body))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, plain.body) {
		t.Errorf("the gzipped answer differs from the plain one")
	}
	if len(z.body)*3 > len(plain.body) {
		t.Errorf("gzipped %d bytes of %d: less than 3x smaller", len(z.body), len(plain.body))
	}
	for _, tc := range []struct{ path, accept string }{
		{"/api/v1/runs/" + small.RunID, "gzip"},   // small
		{"/api/v1/runs/" + big.RunID, "gzip;q=0"}, // refused
		{"/api/v1/runs/nope", "gzip"},             // an error
	} {
		a := h.do("GET", tc.path, "", nil, "Accept-Encoding", tc.accept)
		if a.header.Get("Content-Encoding") != "" || !json.Valid(a.body) {
			t.Errorf("GET %s (Accept-Encoding %s): encoding %q", tc.path, tc.accept, a.header.Get("Content-Encoding"))
		}
	}
}
