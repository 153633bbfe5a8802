// Package profile holds vendor meter profiles: data, not code, that say for
// a family of printers where the vendor-private billing meters and identity
// values live. The profiles for the vendors Meterline knows are embedded in
// the binary (profiles/*.toml, one file per vendor); a user file in the same
// format adds profiles or replaces embedded ones by name.
//
// A profile file holds [[profile]] tables:
//
//	[[profile]]
//	name        = "xerox"          # unique; a user profile of the same name replaces it
//	vendor      = "xerox"          # the wire.DeviceRead vendor slug
//	enterprises = [253]            # sysObjectID arcs after 1.3.6.1.4.1
//	sys_descr   = "(?i)altalink"   # optional: only devices whose sysDescr matches
//	walk        = ["1.3.6.1.4.1.253.8.53.13.2.1.6"]   # subtrees to walk
//	printer_models = '\b(AltaLink|VersaLink)'   # sysDescr naming its printers (no Printer-MIB)
//
//	[profile.identity]             # candidates, tried in order
//	serial   = [{ oid = "…" }]
//	model    = [{ oid = "…", decode = "ieee1284" }]
//	firmware = [{ oid = "…" }]
//	generic_model = "^Generic "    # hrDeviceDescr values that name no model
//
//	[[profile.counter]]
//	kind   = "black"               # domain.CounterKind
//	unit   = "impressions"         # or "sheets"
//	source = "xerox:xcmHrDevDetail.20.34"
//	oid    = "1.3.6.1.4.1.253.8.53.13.2.1.6.*.20.34"   # "*": any one arc, found by walking
//
// A counter's value comes from exactly one of: oid (a scalar, or a value
// below a walked subtree when it holds one "*" arc), oid with a decoder (a
// blob holding several meters), sum (scalars the device defines the meter
// as the sum of), or table (a row of a walked table found by its name or
// type code). A sum may list optional parts: meters of a function only some
// models have (fax), added when the device has them. Counters of the same
// kind are alternatives, tried in order.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/meterline/meterline/shared/domain"
)

// Profile describes one family of printers.
type Profile struct {
	Name        string   `toml:"name"`
	Vendor      string   `toml:"vendor"`
	Enterprises []int    `toml:"enterprises"`
	SysDescr    string   `toml:"sys_descr"`
	Walk        []string `toml:"walk"`
	// PrinterModels matches the sysDescr of this vendor's printers (model
	// families) where it names no printer in words: a device of the
	// vendor's enterprise that matches is read as a printer even without
	// the Printer-MIB (identity only).
	PrinterModels string    `toml:"printer_models"`
	Identity      Identity  `toml:"identity"`
	Counters      []Counter `toml:"counter"`

	sysDescr      *regexp.Regexp
	printerModels *regexp.Regexp
}

// Identity lists where a vendor keeps the device's identity, used where
// the standard MIBs say nothing or too little.
type Identity struct {
	Serial   []Text `toml:"serial"`
	Model    []Text `toml:"model"`
	Firmware []Text `toml:"firmware"`
	// GenericModel matches hrDeviceDescr values that name a platform rather
	// than the model (Konica Minolta's "Generic 28C-1"); then the model
	// candidates are used instead.
	GenericModel string `toml:"generic_model"`

	genericModel *regexp.Regexp
}

// Text is a scalar OID holding text, and how to decode it.
type Text struct {
	OID    string `toml:"oid"`
	Decode string `toml:"decode"`
}

// Text decoders, implemented by package printer.
const (
	// DecodePlain is printable text (the default).
	DecodePlain = ""
	// DecodeHP is HP-LASERJET-COMMON-MIB text: a 01 15 prefix, then text
	// that may continue on a second line as a hex dump.
	DecodeHP = "hp"
	// DecodeIEEE1284 is an IEEE 1284 device ID ("MFG:…;MDL:…;"): the model
	// (MDL or MODEL) is taken from it.
	DecodeIEEE1284 = "ieee1284"
)

// TextDecoders are the valid Text.Decode values.
var TextDecoders = []string{DecodePlain, DecodeHP, DecodeIEEE1284}

// Counter decoders, implemented by package printer.
const (
	// DecodeBrotherCounters is Brother's counter blob (…2435.2.3.9.4.2.1.5.5.10.0):
	// words of kind byte, 01, length, big-endian value; Item selects the kind.
	DecodeBrotherCounters = "brother-counters"
)

// CounterDecoders are the valid Counter.Decoder values.
var CounterDecoders = []string{DecodeBrotherCounters}

// Counter says where one page meter lives.
type Counter struct {
	Kind   domain.CounterKind `toml:"kind"`
	Unit   domain.CounterUnit `toml:"unit"`
	Source string             `toml:"source"`

	OID     string   `toml:"oid"`
	Decoder string   `toml:"decoder"`
	Item    *int     `toml:"item"`
	Sum     []string `toml:"sum"`
	// Optional are parts of Sum that only models with the function have
	// (a fax's black pages): added when the device has them.
	Optional []string `toml:"optional"`
	Table    *Table   `toml:"table"`

	// Fallback puts the counter behind the standard ones: it is used only
	// when neither the PWG counter MIB nor the Printer-MIB gives its kind
	// (HP's engine total rolls over at 1,000,000; prtMarkerLifeCount does not).
	Fallback bool `toml:"fallback"`
}

// Table finds a counter in a table by a name or a type-code column; index
// positions differ between models, so rows are never hard-coded. A row
// matches when its name is one of Names or its code one of Codes; the
// counter is absent unless exactly one row matches.
type Table struct {
	Value string   `toml:"value"`
	Name  string   `toml:"name"`
	Names []string `toml:"names"`
	Code  string   `toml:"code"`
	Codes []int64  `toml:"codes"`
}

// Kinds lists the counter kinds, in the order reads report them.
var Kinds = []domain.CounterKind{
	domain.CounterTotal, domain.CounterBlack, domain.CounterColour,
	domain.CounterPrintBlack, domain.CounterPrintColour,
	domain.CounterCopyBlack, domain.CounterCopyColour,
	domain.CounterFax, domain.CounterScan, domain.CounterDuplex,
	domain.CounterBlackLarge, domain.CounterColourLarge,
}

// Matches reports whether sysDescr passes the profile's sys_descr pattern
// (a profile without one matches any).
func (p Profile) Matches(sysDescr string) bool {
	return p.sysDescr == nil || p.sysDescr.MatchString(sysDescr)
}

// HasKind reports whether the profile has a counter of the given kind that
// comes before the standard MIBs.
func (p Profile) HasKind(kind domain.CounterKind) bool {
	return slices.ContainsFunc(p.Counters, func(c Counter) bool { return c.Kind == kind && !c.Fallback })
}

// NamesPrinter reports whether sysDescr names one of the vendor's printer
// model families (printer_models).
func (p Profile) NamesPrinter(sysDescr string) bool {
	return p.printerModels != nil && p.printerModels.MatchString(sysDescr)
}

// ListsEnterprise reports whether the profile is for devices of the given
// IANA enterprise number.
func (p Profile) ListsEnterprise(enterprise int) bool {
	return enterprise > 0 && slices.Contains(p.Enterprises, enterprise)
}

// IsGenericModel reports whether an hrDeviceDescr names no real model.
func (p Profile) IsGenericModel(model string) bool {
	return p.Identity.genericModel != nil && p.Identity.genericModel.MatchString(model)
}

// Wildcard is the arc of a counter OID that stands for any one arc.
const Wildcard = "*"

// fileDoc is a profile file as written.
type fileDoc struct {
	Profiles []Profile `toml:"profile"`
}

// Parse reads a profile file. Unknown keys are errors, so that a typo does
// not silently drop a meter; name says which file, in errors.
func Parse(name string, data []byte) ([]Profile, error) {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return nil, fmt.Errorf("parse profiles %s: %s", name, strict.String())
		}
		return nil, fmt.Errorf("parse profiles %s: %w", name, err)
	}
	if len(doc.Profiles) == 0 {
		return nil, fmt.Errorf("parse profiles %s: no [[profile]]", name)
	}
	seen := map[string]bool{}
	for i := range doc.Profiles {
		p := &doc.Profiles[i]
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("profiles %s: profile %d (%q): %w", name, i+1, p.Name, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("profiles %s: profile name %q used twice", name, p.Name)
		}
		seen[p.Name] = true
	}
	return doc.Profiles, nil
}

// LoadFile reads a user profile file.
func LoadFile(path string) ([]Profile, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the profile file
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return Parse(path, data)
}

var slug = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validate checks a parsed profile, normalises its OIDs and compiles its
// patterns.
func (p *Profile) validate() error {
	if !slug.MatchString(p.Name) {
		return fmt.Errorf("name %q is not a lower-case slug", p.Name)
	}
	if !slug.MatchString(p.Vendor) {
		return fmt.Errorf("vendor %q is not a lower-case slug", p.Vendor)
	}
	if len(p.Enterprises) == 0 && p.SysDescr == "" {
		return errors.New("matches nothing: give enterprises or sys_descr")
	}
	for _, e := range p.Enterprises {
		if e <= 0 {
			return fmt.Errorf("enterprise %d is not a positive number", e)
		}
	}
	var err error
	if p.SysDescr != "" {
		if p.sysDescr, err = regexp.Compile(p.SysDescr); err != nil {
			return fmt.Errorf("sys_descr: %w", err)
		}
	}
	if p.PrinterModels != "" {
		if p.printerModels, err = regexp.Compile(p.PrinterModels); err != nil {
			return fmt.Errorf("printer_models: %w", err)
		}
	}
	if g := p.Identity.GenericModel; g != "" {
		if p.Identity.genericModel, err = regexp.Compile(g); err != nil {
			return fmt.Errorf("identity.generic_model: %w", err)
		}
	}
	for i := range p.Walk {
		if p.Walk[i], err = checkOID(p.Walk[i], false); err != nil {
			return fmt.Errorf("walk: %w", err)
		}
	}
	for field, texts := range map[string][]Text{"serial": p.Identity.Serial, "model": p.Identity.Model, "firmware": p.Identity.Firmware} {
		for i := range texts {
			if texts[i].OID, err = checkOID(texts[i].OID, false); err != nil {
				return fmt.Errorf("identity.%s: %w", field, err)
			}
			if !slices.Contains(TextDecoders, texts[i].Decode) {
				return fmt.Errorf("identity.%s: unknown decode %q (known: %q)", field, texts[i].Decode, TextDecoders)
			}
		}
	}
	for i := range p.Counters {
		c := &p.Counters[i]
		if err := c.validate(p.Walk); err != nil {
			return fmt.Errorf("counter %d (%s, %q): %w", i+1, c.Kind, c.Source, err)
		}
	}
	return nil
}

func (c *Counter) validate(walks []string) error {
	if !slices.Contains(Kinds, c.Kind) {
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	if c.Unit != domain.UnitImpressions && c.Unit != domain.UnitSheets {
		return fmt.Errorf("unit %q is neither %q nor %q", c.Unit, domain.UnitImpressions, domain.UnitSheets)
	}
	if strings.TrimSpace(c.Source) == "" {
		return errors.New("no source")
	}
	ways := 0
	for _, set := range []bool{c.OID != "", len(c.Sum) > 0, c.Table != nil} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("give exactly one of oid, sum and table")
	}
	var err error
	switch {
	case c.OID != "":
		if c.OID, err = checkOID(c.OID, c.Decoder == ""); err != nil {
			return err
		}
		if strings.Contains(c.OID, Wildcard) && !under(walks, c.OID) {
			return fmt.Errorf("oid %s has a wildcard but lies under no walked subtree", c.OID)
		}
		if c.Decoder != "" {
			if !slices.Contains(CounterDecoders, c.Decoder) {
				return fmt.Errorf("unknown decoder %q (known: %q)", c.Decoder, CounterDecoders)
			}
			if c.Item == nil || *c.Item < 0 || *c.Item > 255 {
				return fmt.Errorf("decoder %s needs an item 0..255", c.Decoder)
			}
		} else if c.Item != nil {
			return errors.New("item without a decoder")
		}
	case len(c.Sum) > 0:
		if len(c.Sum) < 2 {
			return errors.New("a sum needs at least two OIDs")
		}
		for i := range c.Sum {
			if c.Sum[i], err = checkOID(c.Sum[i], false); err != nil {
				return fmt.Errorf("sum: %w", err)
			}
		}
		for i := range c.Optional {
			if c.Optional[i], err = checkOID(c.Optional[i], false); err != nil {
				return fmt.Errorf("optional: %w", err)
			}
		}
	default:
		if err := c.Table.validate(walks); err != nil {
			return fmt.Errorf("table: %w", err)
		}
	}
	if len(c.Optional) > 0 && len(c.Sum) == 0 {
		return errors.New("optional parts need a sum")
	}
	if c.OID == "" && (c.Decoder != "" || c.Item != nil) {
		return errors.New("decoder and item need an oid")
	}
	return nil
}

func (t *Table) validate(walks []string) error {
	var err error
	if t.Value, err = checkOID(t.Value, false); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if t.Name == "" && t.Code == "" {
		return errors.New("give a name or a code column")
	}
	if (t.Name == "") != (len(t.Names) == 0) {
		return errors.New("name and names go together")
	}
	if (t.Code == "") != (len(t.Codes) == 0) {
		return errors.New("code and codes go together")
	}
	for _, col := range []*string{&t.Name, &t.Code} {
		if *col == "" {
			continue
		}
		if *col, err = checkOID(*col, false); err != nil {
			return err
		}
	}
	for _, col := range []string{t.Value, t.Name, t.Code} {
		if col != "" && !under(walks, col) {
			return fmt.Errorf("column %s lies under no walked subtree", col)
		}
	}
	return nil
}

// checkOID normalises a dotted OID (no leading dot) and checks that every
// arc is a number, or, where wildcard is allowed, that at most one arc is "*".
func checkOID(oid string, wildcard bool) (string, error) {
	oid = strings.TrimPrefix(strings.TrimSpace(oid), ".")
	if oid == "" {
		return "", errors.New("empty OID")
	}
	stars := 0
	for _, arc := range strings.Split(oid, ".") {
		if arc == Wildcard && wildcard {
			stars++
			continue
		}
		if arc == "" || strings.Trim(arc, "0123456789") != "" {
			return "", fmt.Errorf("OID %q: arc %q is not a number", oid, arc)
		}
	}
	if stars > 1 {
		return "", fmt.Errorf("OID %q: more than one %q", oid, Wildcard)
	}
	if strings.HasSuffix(oid, "."+Wildcard) || strings.HasPrefix(oid, Wildcard) {
		return "", fmt.Errorf("OID %q: %q must lie between arcs", oid, Wildcard)
	}
	return oid, nil
}

// under reports whether oid (or the part before its wildcard) is one of
// roots or lies below one.
func under(roots []string, oid string) bool {
	prefix, _, _ := strings.Cut(oid, "."+Wildcard)
	for _, r := range roots {
		if prefix == r || strings.HasPrefix(prefix, r+".") {
			return true
		}
	}
	return false
}
