package printer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// Reader reads printers with a set of vendor profiles. The zero Reader
// uses the profiles embedded in the binary; give it a set merged with a
// user's file (profile.Set.Merge) to add or replace profiles.
type Reader struct {
	Profiles profile.Set
	// Log receives the values a read drops (a negative page counter, a
	// serial number too long to be one); nil logs nothing.
	Log *slog.Logger
}

func (rd Reader) logger() *slog.Logger {
	if rd.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rd.Log
}

func (rd Reader) profiles() profile.Set {
	if rd.Profiles.Len() == 0 {
		return profile.Default()
	}
	return rd.Profiles
}

// match chooses the profile of a device from its system group.
func (rd Reader) match(sysObjectID, sysDescr, vendor string) *profile.Profile {
	p, ok := rd.profiles().Match(enterpriseOf(sysObjectID), sysDescr, vendor)
	if !ok {
		return nil
	}
	return p
}

// enterpriseOf is the IANA enterprise number in a sysObjectID, 0 if none.
func enterpriseOf(sysObjectID string) int {
	rest, ok := strings.CutPrefix(sysObjectID, enterprisesPrefixOID)
	if !ok {
		return 0
	}
	arc, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(arc)
	if err != nil {
		return 0
	}
	return n
}

// Fetch gets from one device every value Decode uses: one GET for the
// system scalars, which choose the vendor profile; one walk per standard
// subtree and per subtree the profile names; one GET for the profile's
// scalars; and, for a device whose profile has no black meter, a probe of
// the PWG counter MIB. It fails when the device does not answer or a walk
// fails; a table the device does not have is simply empty.
func (rd Reader) Fetch(ctx context.Context, c snmp.Client) (Snapshot, error) {
	pdus, err := c.Get(ctx, scalars)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read system group: %w", err)
	}
	system := NewSnapshot(pdus)
	sysDescr := ""
	if b, ok := system.bytes(oidSysDescr); ok {
		sysDescr = cleanText(b)
	}
	sysObjectID, _ := system.objectID(oidSysObjectID)
	prof := rd.match(sysObjectID, sysDescr, vendorOf(sysObjectID, sysDescr))

	// A device that answered the system group but goes silent in one
	// table (a value its agent cannot encode, a firmware bug) still has its
	// other tables read: that table's values are absent, never invented.
	// A device that stops answering altogether fails at the next walks.
	var missing []string
	walk := func(name, oid string) ([]snmp.PDU, error) {
		walked, err := c.Walk(ctx, oid)
		switch {
		case err == nil:
		case ctx.Err() == nil && snmp.IsSilence(err) && len(missing) < maxSilentSubtrees:
			missing = append(missing, name)
			return nil, nil
		default:
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		pdus = append(pdus, walked...)
		return walked, nil
	}
	for _, sub := range subtrees {
		if _, err := walk(sub.name, sub.oid); err != nil {
			return Snapshot{}, err
		}
	}
	if prof != nil {
		for _, oid := range prof.Walk {
			if _, err := walk(prof.Name+" profile subtree", oid); err != nil {
				return Snapshot{}, err
			}
		}
		if oids := profileScalars(prof); len(oids) > 0 {
			got, err := c.Get(ctx, oids)
			if err != nil {
				return Snapshot{}, fmt.Errorf("read %s profile values: %w", prof.Name, err)
			}
			pdus = append(pdus, got...)
		}
	}
	if prof == nil || !prof.HasKind(domain.CounterBlack) {
		// Probe-then-use: one round trip finds the key table empty on the
		// many devices without the PWG counter MIB.
		keys, err := walk("icKeyTable", oidICKeyEntry)
		if err != nil {
			return Snapshot{}, err
		}
		if len(keys) > 0 {
			if _, err := walk("icImpressionTable", oidICImpressionEntry); err != nil {
				return Snapshot{}, err
			}
		}
	}
	snap := NewSnapshot(pdus)
	snap.Missing = missing
	return snap, nil
}

// maxSilentSubtrees is how many tables a device may fail to answer before
// the read is given up as a device that stopped answering.
const maxSilentSubtrees = 2

// profileScalars lists the OIDs a profile reads with GET: its identity
// candidates and its scalar counters, except those below a walked subtree.
func profileScalars(p *profile.Profile) []string {
	var oids []string
	seen := map[string]bool{}
	add := func(oid string) {
		if oid == "" || seen[oid] || strings.Contains(oid, profile.Wildcard) {
			return
		}
		for _, root := range p.Walk {
			if snmp.InSubtree(root, oid) {
				return
			}
		}
		seen[oid] = true
		oids = append(oids, oid)
	}
	for _, texts := range [][]profile.Text{p.Identity.Serial, p.Identity.Model, p.Identity.Firmware} {
		for _, t := range texts {
			add(t.OID)
		}
	}
	for _, c := range p.Counters {
		add(c.OID)
		for _, oid := range c.Sum {
			add(oid)
		}
		for _, oid := range c.Optional {
			add(oid)
		}
	}
	return oids
}

// Read reads and decodes one printer. address is recorded as where the
// device was reached; readAt is stamped in UTC, to the millisecond (an
// agent restarted within a second reads every device again: two reads).
func (rd Reader) Read(ctx context.Context, c snmp.Client, address string, readAt time.Time) (wire.DeviceRead, error) {
	s, err := rd.Fetch(ctx, c)
	if err != nil {
		return wire.DeviceRead{}, err
	}
	rd.Log = rd.logger().With("target", address)
	r, err := rd.Decode(s)
	if err != nil {
		return wire.DeviceRead{}, err
	}
	r.Address = address
	r.ReadAt = readAt.UTC().Truncate(time.Millisecond)
	return r, nil
}
