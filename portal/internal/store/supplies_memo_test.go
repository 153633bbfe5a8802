package store

import (
	"testing"
)

// TestSuppliesMemo: the memo answers only for the very bytes it decoded;
// new levels for a device are decoded anew, garbage is an error and
// leaves the memo as it was, and the memo stays bounded.
func TestSuppliesMemo(t *testing.T) {
	var m suppliesMemo
	first := []byte(`[{"index":1,"kind":"toner","colour":"black","state":"measured","percent":40}]`)
	got, err := m.decode(7, first)
	if err != nil || len(got) != 1 || *got[0].Percent != 40 {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	again, err := m.decode(7, append([]byte(nil), first...))
	if err != nil || &again[0] != &got[0] {
		t.Errorf("the same bytes were decoded again (%v)", err)
	}
	later := []byte(`[{"index":1,"kind":"toner","colour":"black","state":"measured","percent":35}]`)
	if got, err := m.decode(7, later); err != nil || *got[0].Percent != 35 {
		t.Errorf("new levels of device 7 = %+v, %v; want 35 %%", got, err)
	}
	if _, err := m.decode(7, []byte(`{not json`)); err == nil {
		t.Error("garbage decoded without an error")
	}
	if got, err := m.decode(7, later); err != nil || *got[0].Percent != 35 {
		t.Errorf("after garbage, device 7 = %+v, %v; want 35 %%", got, err)
	}
	for id := range int64(suppliesMemoDevices + 10) {
		if _, err := m.decode(id+100, first); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.byDevice); n > suppliesMemoDevices {
		t.Errorf("the memo holds %d devices, more than %d", n, suppliesMemoDevices)
	}
}
