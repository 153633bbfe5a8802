package netrange

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		wantLen          int
		wantString       string
		first, last      string // first and last address yielded
	}{
		{"cidr /24 skips network and broadcast", []string{"127.1.0.0/24"}, nil, 254, "127.1.0.1-127.1.0.254", "127.1.0.1", "127.1.0.254"},
		{"cidr /22", []string{"127.1.0.0/22"}, nil, 1022, "127.1.0.1-127.1.3.254", "127.1.0.1", "127.1.3.254"},
		{"cidr /16 is the largest", []string{"127.1.0.0/16"}, nil, 65534, "127.1.0.1-127.1.255.254", "127.1.0.1", "127.1.255.254"},
		{"cidr /31 has no network address", []string{"127.1.0.0/31"}, nil, 2, "127.1.0.0-127.1.0.1", "127.1.0.0", "127.1.0.1"},
		{"cidr /32", []string{"127.1.0.7/32"}, nil, 1, "127.1.0.7", "127.1.0.7", "127.1.0.7"},
		{"a-b", []string{"127.1.4.10-127.1.4.50"}, nil, 41, "127.1.4.10-127.1.4.50", "127.1.4.10", "127.1.4.50"},
		{"a-b across octets", []string{"127.1.4.250-127.1.5.3"}, nil, 10, "127.1.4.250-127.1.5.3", "127.1.4.250", "127.1.5.3"},
		{"a-b short form", []string{"127.1.4.10-20"}, nil, 11, "127.1.4.10-127.1.4.20", "127.1.4.10", "127.1.4.20"},
		{"single address", []string{"192.0.2.9"}, nil, 1, "192.0.2.9", "192.0.2.9", "192.0.2.9"},
		{"comma and space lists, overlaps merged", []string{"192.0.2.1, 192.0.2.2 192.0.2.3", "192.0.2.2-192.0.2.5,192.0.2.9"}, nil,
			6, "192.0.2.1-192.0.2.5, 192.0.2.9", "192.0.2.1", "192.0.2.9"},
		{"exclusions cut holes", []string{"127.1.0.0/24"}, []string{"127.1.0.1-127.1.0.9, 127.1.0.100", "127.1.0.250/31"},
			242, "127.1.0.10-127.1.0.99, 127.1.0.101-127.1.0.249, 127.1.0.252-127.1.0.254", "127.1.0.10", "127.1.0.254"},
		{"everything excluded", []string{"127.1.0.5"}, []string{"127.1.0.0/24"}, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.include, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			var all []netip.Addr
			for a := range r.All() {
				all = append(all, a)
			}
			if r.Len() != tt.wantLen || len(all) != tt.wantLen || r.String() != tt.wantString {
				t.Fatalf("Len %d, yielded %d, String %q; want %d, %q", r.Len(), len(all), r, tt.wantLen, tt.wantString)
			}
			for i := 1; i < len(all); i++ {
				if all[i].Compare(all[i-1]) <= 0 {
					t.Fatalf("%s after %s: not strictly ascending", all[i], all[i-1])
				}
			}
			if len(all) > 0 && (all[0].String() != tt.first || all[len(all)-1].String() != tt.last) {
				t.Errorf("first %s, last %s; want %s, %s", all[0], all[len(all)-1], tt.first, tt.last)
			}
			for _, a := range all {
				if !r.Contains(a) {
					t.Errorf("Contains(%s) = false for a yielded address", a)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"/15 refused", []string{"127.0.0.0/15"}, nil, []string{`"127.0.0.0/15" is larger than a /16 (131072 addresses)`}},
		{"/8 refused", []string{"127.0.0.0/8"}, nil, []string{`"127.0.0.0/8" is larger than a /16`}},
		{"a-b too large", []string{"127.0.0.0-127.1.0.0"}, nil, []string{`"127.0.0.0-127.1.0.0" holds 65537 addresses`}},
		{"host bits", []string{"127.1.0.5/24"}, nil, []string{`"127.1.0.5/24" has host bits set: did you mean 127.1.0.0/24?`}},
		{"backwards", []string{"127.1.0.9-127.1.0.1"}, nil, []string{`"127.1.0.9-127.1.0.1" ends before it starts`}},
		{"not an address", []string{"printer.local"}, nil, []string{`"printer.local" is not an IPv4 address`}},
		{"bad cidr", []string{"127.1.0.0/33"}, nil, []string{`"127.1.0.0/33" is not a CIDR block`}},
		{"ipv6", []string{"2001:db8::/120"}, nil, []string{"only IPv4"}},
		{"ipv6 address", []string{"2001:db8::1"}, nil, []string{"only IPv4"}},
		{"empty", []string{" , "}, nil, []string{"holds no address"}},
		{"bad exclusion", []string{"127.1.0.0/24"}, []string{"127.1.0.300"}, []string{`exclude: "127.1.0.300"`}},
		{"all problems at once", []string{"127.0.0.0/8, 127.1.0.x"}, nil, []string{"larger than a /16", `"127.1.0.x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.include, tt.exclude)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestAllStopsEarly checks that the iterator honours a consumer that stops,
// and yields a /16 without building it.
func TestAllStopsEarly(t *testing.T) {
	r := MustParse("127.9.0.0/16")
	n := 0
	for range r.All() {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("yielded %d", n)
	}
	allocs := testing.AllocsPerRun(1, func() {
		for range r.All() {
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations to yield a /16", allocs)
	}
}

func TestWithin(t *testing.T) {
	outer := MustParse("127.1.0.0/24", "127.1.2.10-20")
	tests := []struct {
		inner string
		want  bool
	}{
		{"127.1.0.0/24", true},
		{"127.1.0.0/25", true},
		{"127.1.2.12-15, 127.1.0.9", true},
		{"127.1.0.0/23", false}, // half outside
		{"127.1.2.21", false},
		{"127.9.0.0/24", false},
	}
	for _, tt := range tests {
		if got := MustParse(tt.inner).Within(outer); got != tt.want {
			t.Errorf("%s within %s = %t, want %t", tt.inner, outer, got, tt.want)
		}
	}
}
