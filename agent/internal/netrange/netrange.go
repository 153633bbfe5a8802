// Package netrange parses the IPv4 address ranges of the agent's
// configuration (CIDR blocks, A-B runs, single addresses) into a compact
// set, for discovery sweeps and for the scope of remote configuration.
package netrange

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
)

// MaxSize is the most addresses one range may hold: a /16. A sweep of
// more is almost always a typo ("10.0.0.0/8" for "10.0.0.0/24") that would
// send SNMP to millions of addresses.
const MaxSize = 1 << 16

// span is an inclusive run of IPv4 addresses, as integers.
type span struct{ first, last uint32 }

// Ranges is a set of IPv4 addresses to sweep: the ranges given minus the
// exclusions, merged and in ascending order. It holds runs, not addresses,
// so a /16 costs a few bytes.
type Ranges struct {
	spans []span
}

// Parse parses the ranges to sweep and the ranges to leave out. Each
// string holds one or more items separated by commas or blanks; an item is
// a CIDR block ("10.1.0.0/22"), a range of addresses ("10.1.4.10-10.1.4.50",
// or "10.1.4.10-50" for the last octet) or one address. IPv4 only. A CIDR
// block sweeps its hosts only: the network and broadcast addresses are
// left out, except for /31 and /32 which have none.
func Parse(include, exclude []string) (Ranges, error) {
	in, err := parseList(include)
	if err != nil {
		return Ranges{}, err
	}
	out, err := parseList(exclude)
	if err != nil {
		return Ranges{}, fmt.Errorf("exclude: %w", err)
	}
	return Ranges{spans: subtract(merge(in), merge(out))}, nil
}

// MustParse is Parse for tests and constants: it panics on a
// bad range.
func MustParse(include ...string) Ranges {
	r, err := Parse(include, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// Len is how many addresses the set holds.
func (r Ranges) Len() int {
	n := 0
	for _, s := range r.spans {
		n += int(s.last-s.first) + 1
	}
	return n
}

// All yields every address of the set in ascending order, one at a time.
func (r Ranges) All() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for _, s := range r.spans {
			for n := s.first; ; n++ {
				if !yield(addrOf(n)) {
					return
				}
				if n == s.last {
					break
				}
			}
		}
	}
}

// Contains reports whether addr is in the set.
func (r Ranges) Contains(addr netip.Addr) bool {
	if !addr.Unmap().Is4() {
		return false
	}
	n := numberOf(addr.Unmap())
	for _, s := range r.spans {
		if n >= s.first && n <= s.last {
			return true
		}
	}
	return false
}

// Within reports whether every address of r is in outer.
func (r Ranges) Within(outer Ranges) bool {
	return len(subtract(r.spans, outer.spans)) == 0
}

// String lists the runs, for logs: "10.1.0.1-10.1.3.254, 10.1.4.10".
func (r Ranges) String() string {
	parts := make([]string, len(r.spans))
	for i, s := range r.spans {
		parts[i] = addrOf(s.first).String()
		if s.last != s.first {
			parts[i] += "-" + addrOf(s.last).String()
		}
	}
	return strings.Join(parts, ", ")
}

func parseList(list []string) ([]span, error) {
	var spans []span
	var errs []error
	for _, text := range list {
		items := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		if len(items) == 0 {
			errs = append(errs, fmt.Errorf("%q holds no address", text))
		}
		for _, item := range items {
			s, err := parseItem(item)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			spans = append(spans, s)
		}
	}
	return spans, errors.Join(errs...)
}

func parseItem(item string) (span, error) {
	if strings.Contains(item, "/") {
		return parseCIDR(item)
	}
	if from, to, ok := strings.Cut(item, "-"); ok {
		return parseDash(item, from, to)
	}
	a, err := parseIPv4(item, item)
	if err != nil {
		return span{}, err
	}
	n := numberOf(a)
	return span{n, n}, nil
}

func parseCIDR(item string) (span, error) {
	p, err := netip.ParsePrefix(item)
	if err != nil {
		return span{}, fmt.Errorf("%q is not a CIDR block such as 10.1.0.0/22", item)
	}
	if !p.Addr().Is4() {
		return span{}, fmt.Errorf("%q: only IPv4 ranges can be swept", item)
	}
	if p.Bits() < 16 {
		return span{}, fmt.Errorf("%q is larger than a /16 (%d addresses): sweep at most %d addresses per range, as several ranges if need be",
			item, uint64(1)<<(32-p.Bits()), MaxSize)
	}
	if p.Masked() != p {
		return span{}, fmt.Errorf("%q has host bits set: did you mean %s?", item, p.Masked())
	}
	first := numberOf(p.Addr())
	last := first | (1<<(32-p.Bits()) - 1)
	if p.Bits() < 31 {
		// Network and broadcast addresses are nobody's: a directed
		// broadcast would make every host of the subnet answer.
		first, last = first+1, last-1
	}
	return span{first, last}, nil
}

func parseDash(item, from, to string) (span, error) {
	a, err := parseIPv4(item, from)
	if err != nil {
		return span{}, err
	}
	if !strings.Contains(to, ".") {
		// "10.1.4.10-50": the end shares the first three octets.
		prefix := from[:strings.LastIndexByte(from, '.')+1]
		to = prefix + to
	}
	b, err := parseIPv4(item, to)
	if err != nil {
		return span{}, err
	}
	first, last := numberOf(a), numberOf(b)
	if last < first {
		return span{}, fmt.Errorf("%q ends before it starts", item)
	}
	if last-first >= MaxSize {
		return span{}, fmt.Errorf("%q holds %d addresses: sweep at most %d addresses per range (a /16), as several ranges if need be",
			item, uint64(last-first)+1, MaxSize)
	}
	return span{first, last}, nil
}

func parseIPv4(item, text string) (netip.Addr, error) {
	a, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q: %q is not an IPv4 address", item, text)
	}
	if !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q: only IPv4 ranges can be swept", item)
	}
	return a, nil
}

// merge sorts spans and joins those that overlap or touch.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && (s.first <= out[n-1].last || s.first == out[n-1].last+1) {
			out[n-1].last = max(out[n-1].last, s.last)
			continue
		}
		out = append(out, s)
	}
	return out
}

// subtract removes the merged spans cut from the merged spans from.
func subtract(from, cut []span) []span {
	var out []span
	for _, s := range from {
		rest := []span{s}
		for _, c := range cut {
			var next []span
			for _, r := range rest {
				if c.last < r.first || c.first > r.last {
					next = append(next, r)
					continue
				}
				if c.first > r.first {
					next = append(next, span{r.first, c.first - 1})
				}
				if c.last < r.last {
					next = append(next, span{c.last + 1, r.last})
				}
			}
			rest = next
		}
		out = append(out, rest...)
	}
	return out
}

func numberOf(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addrOf(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}
