package poll

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/wire"
)

// CredentialReader reads devices over SNMP, trying the credentials in order
// until one gets an answer, and remembers per target the one that worked,
// which it tries first from then on. It is safe for concurrent use.
type CredentialReader struct {
	// Printer reads a device once a credential answers; its zero value
	// uses the embedded vendor profiles.
	Printer printer.Reader

	dial        snmp.DialFunc
	credentials []snmp.Credential
	now         func() time.Time

	mu     sync.Mutex
	worked map[string]string // target → name of the credential that worked
}

// NewCredentialReader returns a reader trying credentials in order.
func NewCredentialReader(dial snmp.DialFunc, credentials []snmp.Credential, now func() time.Time) *CredentialReader {
	return &CredentialReader{dial: dial, credentials: slices.Clone(credentials), now: now, worked: map[string]string{}}
}

// SetCredentials replaces the credentials to try, as when the collector
// picks other ones among those of the local file. What worked on a target
// is still tried first while that credential is among them.
func (r *CredentialReader) SetCredentials(credentials []snmp.Credential) {
	credentials = slices.Clone(credentials)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.credentials = credentials
	for target, name := range r.worked {
		if !slices.ContainsFunc(credentials, func(c snmp.Credential) bool { return c.Name == name }) {
			delete(r.worked, target)
		}
	}
}

// Use makes the credential named name the first one tried on target, as
// when discovery found which works. An unknown name is ignored.
func (r *CredentialReader) Use(target, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.ContainsFunc(r.credentials, func(c snmp.Credential) bool { return c.Name == name }) {
		r.worked[target] = name
	}
}

// Worked names the credential that last worked on target.
func (r *CredentialReader) Worked(target string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.worked[target]
	return name, ok
}

// Read is a ReadFunc. A credential that gets no answer, or that an SNMPv3
// agent refuses, passes the turn to the next; any other failure (not a
// printer, a broken walk) is the device's, and ends the read. When every
// credential fails, the error is the remembered credential's, else the
// first one's: the most telling.
func (r *CredentialReader) Read(ctx context.Context, target string) (wire.DeviceRead, error) {
	readAt := r.now()
	var firstErr error
	for _, cred := range r.order(target) {
		read, err := r.readWith(ctx, target, cred.Params, readAt)
		if err == nil {
			r.mu.Lock()
			r.worked[target] = cred.Name
			r.mu.Unlock()
			return read, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil || !(snmp.IsNoAnswer(err) || snmp.IsAuthFailure(err)) {
			return wire.DeviceRead{}, err
		}
	}
	if firstErr == nil {
		return wire.DeviceRead{}, errors.New("no SNMP credentials to try")
	}
	return wire.DeviceRead{}, firstErr
}

// order lists the credentials to try on target, the one that worked
// first. It is a copy: SetCredentials may run meanwhile.
func (r *CredentialReader) order(target string) []snmp.Credential {
	r.mu.Lock()
	defer r.mu.Unlock()
	worked, ok := r.worked[target]
	order := make([]snmp.Credential, 0, len(r.credentials))
	if i := slices.IndexFunc(r.credentials, func(c snmp.Credential) bool { return c.Name == worked }); ok && i >= 0 {
		order = append(order, r.credentials[i])
	}
	for _, c := range r.credentials {
		if !ok || c.Name != worked {
			order = append(order, c)
		}
	}
	return order
}

// readWith reads target with one credential; every try of a read is
// stamped with the time the read started.
func (r *CredentialReader) readWith(ctx context.Context, target string, p snmp.Params, readAt time.Time) (wire.DeviceRead, error) {
	c, err := r.dial(ctx, target, p)
	if err != nil {
		return wire.DeviceRead{}, err
	}
	defer c.Close()
	return r.Printer.Read(ctx, c, target, readAt)
}
