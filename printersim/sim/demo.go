package sim

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/meterline/meterline/printersim/snmprec"
)

// The demo fleet is compiled in, so the binary needs no files at run time.
// fleet/README.md describes each fixture.
//
//go:embed fleet/*.snmprec
var fleetFiles embed.FS

var demoFleet = sync.OnceValues(func() ([]Device, error) {
	paths, err := fs.Glob(fleetFiles, "fleet/*.snmprec")
	if err != nil {
		return nil, err
	}
	devs := make([]Device, 0, len(paths))
	for _, p := range paths {
		f, err := fleetFiles.Open(p)
		if err != nil {
			return nil, err
		}
		records, err := snmprec.Parse(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
		dev, err := NewDevice(strings.TrimSuffix(path.Base(p), ".snmprec"), records)
		if err != nil {
			return nil, err
		}
		devs = append(devs, dev)
	}
	return devs, nil
})

// DemoFleet returns the built-in fleet: printers of several vendors, mono
// and colour, with vendor page meters and supply quirks (see
// fleet/README.md). It panics if the embedded fixtures do not parse, which
// the package's tests rule out.
func DemoFleet() []Device {
	devs, err := demoFleet()
	if err != nil {
		panic(fmt.Sprintf("sim: embedded demo fleet: %v", err))
	}
	return slices.Clone(devs)
}
