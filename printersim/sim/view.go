package sim

import (
	"github.com/meterline/meterline/printersim/snmprec"
)

// snapshot is a device as it stands at one instant: the responder's view
// for one request, so every varbind of a response agrees.
type snapshot struct {
	dev   *Device
	usage usage
}

func (s snapshot) Get(oid snmprec.OID) (snmprec.Value, bool) {
	i, ok := s.dev.find(oid)
	if !ok {
		return snmprec.Value{}, false
	}
	return s.dev.valueAt(i, s.usage), true
}

func (s snapshot) Next(oid snmprec.OID) (snmprec.OID, snmprec.Value, bool) {
	i := s.dev.after(oid)
	if i >= len(s.dev.entries) {
		return nil, snmprec.Value{}, false
	}
	return s.dev.entries[i].oid, s.dev.valueAt(i, s.usage), true
}
