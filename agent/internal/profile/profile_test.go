package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/domain"
)

// TestEmbedded parses every embedded profile strictly: a broken file would
// otherwise surface only when the agent starts.
func TestEmbedded(t *testing.T) {
	set, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	vendors := map[string]bool{}
	for _, p := range set.Profiles() {
		vendors[p.Vendor] = true
		for _, c := range p.Counters {
			if !strings.Contains(c.Source, ":") {
				t.Errorf("%s: counter %s source %q does not name its vendor", p.Name, c.Kind, c.Source)
			}
		}
	}
	for _, v := range []string{"xerox", "hp", "canon", "ricoh", "kyocera", "konica_minolta", "brother", "lexmark",
		"sharp", "toshiba", "epson", "oki", "samsung", "dell", "fuji_xerox"} {
		if !vendors[v] {
			t.Errorf("no embedded profile for %s", v)
		}
	}
	// One file per vendor, named after the profile.
	files, _ := filepath.Glob(filepath.Join("profiles", "*.toml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := Parse(f, data)
		if err != nil {
			t.Fatal(err)
		}
		if name := strings.TrimSuffix(filepath.Base(f), ".toml"); ps[0].Name != name {
			t.Errorf("%s holds profile %q", f, ps[0].Name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	const head = "[[profile]]\nname = \"x\"\nvendor = \"x\"\nenterprises = [1]\n"
	const counter = "[[profile.counter]]\nkind = \"black\"\nunit = \"impressions\"\nsource = \"x:y\"\n"
	tests := []struct{ name, doc, want string }{
		{"unknown key", head + "colour = 1\n", "colour"},
		{"no profile", "", "no [[profile]]"},
		{"matches nothing", "[[profile]]\nname = \"x\"\nvendor = \"x\"\n", "matches nothing"},
		{"bad vendor", "[[profile]]\nname = \"x\"\nvendor = \"X Corp\"\nenterprises = [1]\n", "slug"},
		{"bad pattern", head + "sys_descr = \"(\"\n", "sys_descr"},
		{"unknown kind", head + strings.Replace(counter, "black", "mauve", 1) + "oid = \"1.2\"\n", "unknown kind"},
		{"bad unit", head + strings.Replace(counter, "impressions", "pages", 1) + "oid = \"1.2\"\n", "unit"},
		{"no source", head + strings.Replace(counter, "x:y", " ", 1) + "oid = \"1.2\"\n", "no source"},
		{"two ways", head + counter + "oid = \"1.2\"\nsum = [\"1.3\", \"1.4\"]\n", "exactly one"},
		{"no way", head + counter, "exactly one"},
		{"bad oid", head + counter + "oid = \"1.x.2\"\n", "not a number"},
		{"wildcard not walked", head + counter + "oid = \"1.2.*.3\"\n", "no walked subtree"},
		{"two wildcards", head + "walk = [\"1.2\"]\n" + counter + "oid = \"1.2.*.*.3\"\n", "more than one"},
		{"sum of one", head + counter + "sum = [\"1.3\"]\n", "at least two"},
		{"unknown decoder", head + counter + "oid = \"1.2\"\ndecoder = \"zip\"\nitem = 1\n", "unknown decoder"},
		{"decoder without item", head + counter + "oid = \"1.2\"\ndecoder = \"brother-counters\"\n", "item"},
		{"table not walked", head + counter + "table = { value = \"1.2.3\", name = \"1.2.4\", names = [\"a\"] }\n", "no walked subtree"},
		{"table without names", head + "walk = [\"1.2\"]\n" + counter + "table = { value = \"1.2.3\", name = \"1.2.4\" }\n", "go together"},
		{"unknown text decoder", head + "[profile.identity]\nserial = [{ oid = \"1.2\", decode = \"rot13\" }]\n", "unknown decode"},
		{"duplicate name", head + head, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	set := Default()
	user, err := Parse("user.toml", []byte(`
[[profile]]
name = "ricoh_im"
vendor = "ricoh"
enterprises = [367]
sys_descr = '(?i)\bIM C\d+'
`))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := set.Merge(user)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		set              Set
		enterprise       int
		sysDescr, vendor string
		want             string
	}{
		{"by enterprise", set, 253, "Xerox AltaLink", "xerox", "xerox"},
		{"OEM brand by enterprise", set, 367, "SAVIN MP C4503", "ricoh", "ricoh"},
		{"pattern first", merged, 367, "RICOH IM C3000", "ricoh", "ricoh_im"},
		{"pattern not matching", merged, 367, "RICOH MP C3004", "ricoh", "ricoh"},
		{"no sysObjectID: vendor from sysDescr", set, 0, "SHARP MX-2614N", "sharp", "sharp"},
		{"unknown enterprise", set, 51966, "TTP244CE", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := tt.set.Match(tt.enterprise, tt.sysDescr, tt.vendor)
			got := ""
			if ok {
				got = p.Name
			}
			if got != tt.want {
				t.Errorf("Match = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHasKind(t *testing.T) {
	set := Default()
	hp, _ := set.Match(11, "", "hp")
	if !hp.HasKind(domain.CounterBlack) || hp.HasKind(domain.CounterTotal) {
		t.Errorf("hp: black %v total %v; its total is a fallback", hp.HasKind(domain.CounterBlack), hp.HasKind(domain.CounterTotal))
	}
}

// TestReadmeListsEverySource keeps the vendor × meter table of README.md
// in step with the profiles: every counter source a read can carry is
// listed there, in backquotes, with its OIDs and documents.
func TestReadmeListsEverySource(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Profiles() {
		for _, c := range p.Counters {
			if !strings.Contains(string(readme), "`"+c.Source+"`") {
				t.Errorf("README.md does not list %s counter %s source `%s`", p.Name, c.Kind, c.Source)
			}
		}
	}
}
