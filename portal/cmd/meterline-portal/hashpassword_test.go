package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/auth"
)

// TestHashPassword: the first line of the input, without its line end,
// is hashed so that sign-in accepts it; no password is an error.
func TestHashPassword(t *testing.T) {
	var out bytes.Buffer
	if err := hashPassword(strings.NewReader("bench password 1\r\nignored\n"), &out); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	h, err := auth.NewHasher(auth.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify(hash, "bench password 1"); !ok || rehash || err != nil {
		t.Errorf("Verify(%q) = %v, %v, %v", hash, ok, rehash, err)
	}
	for _, in := range []string{"", "\n"} {
		if err := hashPassword(strings.NewReader(in), &out); err == nil {
			t.Errorf("input %q: no error", in)
		}
	}
}
