package i18n

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestCataloguesHaveSameKeys keeps the two catalogues in step: a key added
// to one language and forgotten in the other fails here, not on a page.
func TestCataloguesHaveSameKeys(t *testing.T) {
	fr, en := Keys(FR), Keys(EN)
	for _, k := range fr {
		if _, ok := slices.BinarySearch(en, k); !ok {
			t.Errorf("key %q is in the French catalogue but not the English one", k)
		}
	}
	for _, k := range en {
		if _, ok := slices.BinarySearch(fr, k); !ok {
			t.Errorf("key %q is in the English catalogue but not the French one", k)
		}
	}
}

var verb = regexp.MustCompile(`%(\[\d+\])?[a-zA-Z%]`)

// argVerbs returns, for a format string, the verb used for each argument
// index, so "%s (%s)" and "%[2]s %[1]s" compare equal.
func argVerbs(format string) map[int]string {
	out := map[int]string{}
	next := 1
	for _, m := range verb.FindAllStringSubmatch(format, -1) {
		if m[0] == "%%" {
			continue
		}
		idx := next
		if m[1] != "" {
			idx, _ = strconv.Atoi(m[1][1 : len(m[1])-1])
		}
		out[idx] = m[0][len(m[0])-1:]
		next = idx + 1
	}
	return out
}

// TestCataloguesAgreeOnArguments checks that each message takes the same
// arguments, with the same verbs, in both languages, and is not empty.
func TestCataloguesAgreeOnArguments(t *testing.T) {
	for _, k := range Keys(FR) {
		fr, en := catalogues[FR][k], catalogues[EN][k]
		if fr == "" || en == "" {
			t.Errorf("key %q has an empty message", k)
		}
		a, b := argVerbs(fr), argVerbs(en)
		if len(a) != len(b) {
			t.Errorf("key %q: French takes %v, English %v", k, a, b)
			continue
		}
		for i, v := range a {
			if b[i] != v {
				t.Errorf("key %q: argument %d is %%%s in French, %%%s in English", k, i, v, b[i])
			}
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Lang
		ok   bool
	}{
		{"fr", FR, true},
		{"EN", EN, true},
		{"en-GB", EN, true},
		{" fr-CA ", FR, true},
		{"de", "de", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		header string
		want   Lang
	}{
		{"", FR},
		{"en", EN},
		{"en-US,en;q=0.9", EN},
		{"de-DE,de;q=0.9", FR},
		{"de-DE,en;q=0.8,fr;q=0.5", EN},
		{"fr-CA,fr;q=0.9,en;q=0.8", FR},
		{"en;q=0.5,fr;q=0.7", FR},
		{"en;q=x", FR},
		{"*", FR},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.header); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		lang Lang
		n    int64
		want string
	}{
		{FR, 0, "0"},
		{FR, 999, "999"},
		{FR, 1000, "1\u202f000"},
		{FR, 1234567, "1\u202f234\u202f567"},
		{FR, -12345, "-12\u202f345"},
		{EN, 1000, "1,000"},
		{EN, 123456, "123,456"},
		{EN, 1234567, "1,234,567"},
		{EN, -1234, "-1,234"},
	}
	for _, tt := range tests {
		if got := For(tt.lang).Number(tt.n); got != tt.want {
			t.Errorf("%s Number(%d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

func TestPercentAndPlural(t *testing.T) {
	fr, en := For(FR), For(EN)
	tests := []struct{ got, want string }{
		{fr.Percent(42), "42\u202f%"},
		{en.Percent(42), "42%"},
		{fr.N("devices.count", 0), "0 appareil"},
		{fr.N("devices.count", 1), "1 appareil"},
		{fr.N("devices.count", 2), "2 appareils"},
		{en.N("devices.count", 0), "0 devices"},
		{en.N("devices.count", 1), "1 device"},
		{en.N("devices.count", 1500), "1,500 devices"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago    time.Duration
		fr, en string
	}{
		{-time.Minute, "à l'instant", "just now"},
		{30 * time.Second, "à l'instant", "just now"},
		{3 * time.Minute, "il y a 3 min", "3 min ago"},
		{59 * time.Minute, "il y a 59 min", "59 min ago"},
		{2*time.Hour + 5*time.Minute, "il y a 2 h", "2 h ago"},
		{25 * time.Hour, "il y a 1 jour", "1 day ago"},
		{72 * time.Hour, "il y a 3 jours", "3 days ago"},
		{40 * 24 * time.Hour, "le 2 févr. 2026", "on Feb 2, 2026"},
	}
	for _, tt := range tests {
		at := now.Add(-tt.ago)
		if got := For(FR).Ago(at, now, time.UTC); got != tt.fr {
			t.Errorf("FR Ago(-%v) = %q, want %q", tt.ago, got, tt.fr)
		}
		if got := For(EN).Ago(at, now, time.UTC); got != tt.en {
			t.Errorf("EN Ago(-%v) = %q, want %q", tt.ago, got, tt.en)
		}
	}
}

func TestDateTime(t *testing.T) {
	at := time.Date(2026, 8, 1, 9, 5, 0, 0, time.UTC)
	if got, want := For(FR).DateTime(at, time.UTC), "1 août 2026, 09:05 UTC"; got != want {
		t.Errorf("FR DateTime = %q, want %q", got, want)
	}
	if got, want := For(EN).DateTime(at, time.UTC), "Aug 1, 2026, 09:05 UTC"; got != want {
		t.Errorf("EN DateTime = %q, want %q", got, want)
	}
}

func TestDate(t *testing.T) {
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if got, want := For(FR).Date(at), "1 avr. 2026"; got != want {
		t.Errorf("FR Date = %q, want %q", got, want)
	}
	if got, want := For(EN).Date(at), "Apr 1, 2026"; got != want {
		t.Errorf("EN Date = %q, want %q", got, want)
	}
}

func TestMissingKeyShowsKey(t *testing.T) {
	p := For("de")
	if p.Lang() != Default {
		t.Fatalf("For(de) speaks %q, want the default %q", p.Lang(), Default)
	}
	if got := p.T("no.such.key"); got != "no.such.key" {
		t.Errorf("T(missing) = %q", got)
	}
	if p.Has("no.such.key") || !p.Has("devices.title") {
		t.Error("Has is wrong")
	}
}
