package profile

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"
)

//go:embed profiles/*.toml
var embedded embed.FS

// Set is the profiles a reader chooses from, in the order they are tried.
// The zero Set has no profiles.
type Set struct {
	profiles []Profile
}

// NewSet returns a set of profiles, tried in the order given. Names must
// be unique.
func NewSet(profiles []Profile) (Set, error) {
	seen := map[string]bool{}
	for _, p := range profiles {
		if seen[p.Name] {
			return Set{}, fmt.Errorf("profile name %q used twice", p.Name)
		}
		seen[p.Name] = true
	}
	return Set{profiles: slices.Clone(profiles)}, nil
}

// Embedded parses the profiles built into the binary, one file per vendor,
// in file name order.
func Embedded() (Set, error) {
	files, err := fs.Glob(embedded, "profiles/*.toml")
	if err != nil {
		return Set{}, fmt.Errorf("list embedded profiles: %w", err)
	}
	var all []Profile
	for _, f := range files {
		data, err := embedded.ReadFile(f)
		if err != nil {
			return Set{}, fmt.Errorf("read embedded profiles: %w", err)
		}
		ps, err := Parse(path.Base(f), data)
		if err != nil {
			return Set{}, err
		}
		all = append(all, ps...)
	}
	return NewSet(all)
}

// Default is the embedded set, parsed once. The embedded files are checked
// by the package's tests, so a failure here is a build defect: it panics.
var Default = sync.OnceValue(func() Set {
	s, err := Embedded()
	if err != nil {
		panic(fmt.Sprintf("embedded vendor profiles: %v", err))
	}
	return s
})

// Merge returns s with user profiles laid over it: a user profile replaces
// the profile of the same name in s, and every user profile is tried before
// the ones of s, so a user can refine a vendor's profile for one model.
func (s Set) Merge(user []Profile) (Set, error) {
	names := map[string]bool{}
	for _, p := range user {
		names[p.Name] = true
	}
	merged := slices.Clone(user)
	for _, p := range s.profiles {
		if !names[p.Name] {
			merged = append(merged, p)
		}
	}
	return NewSet(merged)
}

// Profiles returns the profiles of the set, in the order they are tried.
func (s Set) Profiles() []Profile { return slices.Clone(s.profiles) }

// Len is the number of profiles.
func (s Set) Len() int { return len(s.profiles) }

// Match chooses the profile of a device: among the profiles listing the
// enterprise number of its sysObjectID, one whose sys_descr pattern
// matches sysDescr before one without a pattern; failing that (no
// sysObjectID, or an enterprise no profile lists), a profile whose pattern
// matches, then one of the vendor named from sysDescr. enterprise is 0 when
// the device gave no sysObjectID.
func (s Set) Match(enterprise int, sysDescr, vendor string) (*Profile, bool) {
	passes := []func(p *Profile) bool{
		func(p *Profile) bool {
			return p.ListsEnterprise(enterprise) && p.sysDescr != nil && p.Matches(sysDescr)
		},
		func(p *Profile) bool { return p.ListsEnterprise(enterprise) && p.sysDescr == nil },
		func(p *Profile) bool { return p.sysDescr != nil && p.Matches(sysDescr) },
		func(p *Profile) bool { return vendor != "" && p.Vendor == vendor && p.sysDescr == nil },
	}
	for i, pass := range passes {
		if i >= 2 && s.anyListsEnterprise(enterprise) {
			// The enterprise is known but no pattern of its profiles fits:
			// do not borrow another vendor's profile.
			return nil, false
		}
		for j := range s.profiles {
			if pass(&s.profiles[j]) {
				return &s.profiles[j], true
			}
		}
	}
	return nil, false
}

func (s Set) anyListsEnterprise(enterprise int) bool {
	for i := range s.profiles {
		if s.profiles[i].ListsEnterprise(enterprise) {
			return true
		}
	}
	return false
}
