package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSOptions say how to check the broker and how to prove who the agent
// is. The zero value trusts the system's certificate authorities and sends
// no client certificate.
type TLSOptions struct {
	// CAFile is a PEM file of the certificate authorities that sign the
	// broker's certificate, instead of the system's.
	CAFile string
	// CertFile and KeyFile are the agent's PEM client certificate and key,
	// for brokers that require one (Mosquitto require_certificate).
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any broker certificate: tests and
	// troubleshooting only.
	InsecureSkipVerify bool
}

// Config builds the tls.Config. Its errors name the option at fault by its
// configuration key (ca_file, cert_file, key_file).
func (o TLSOptions) Config() (*tls.Config, error) {
	// InsecureSkipVerify is the operator's mqtt.insecure_skip_verify: off by
	// default, documented as for tests only, refused by config.Validate on
	// a URL without TLS, and warned of in the log when on.
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // G402: an explicit operator option, false unless set
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", o.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	case o.CertFile != "":
		return nil, errors.New("cert_file: set without key_file")
	case o.KeyFile != "":
		return nil, errors.New("key_file: set without cert_file")
	}
	return c, nil
}
