package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/wire"
)

// read is "meterline-agent read": one read of one printer, printed as the
// wire.DeviceRead the agent would publish. It answers a user's "does it
// work with my printer?".
func (a *app) read(ctx context.Context, args []string) error {
	fs := a.flagSet("read", "--target HOST[:PORT] [flags]")
	target := fs.String("target", "", "the printer, as host or host:port (port 161 if none)")
	profiles := fs.String("profiles", "", "a TOML file of vendor meter profiles tried before the embedded ones")
	cf := addCredentialFlags(fs, snmp.DefaultTimeout)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if *target == "" {
		fmt.Fprintln(a.stderr, "read: --target is required")
		fs.Usage()
		return errUsage
	}
	params, err := cf.params(a.env.Getenv)
	if err != nil {
		return err
	}
	address, err := snmp.JoinTarget(*target)
	if err != nil {
		return err
	}
	pr, err := printerReader(*profiles)
	if err != nil {
		return err
	}
	r, err := readOne(ctx, a.dial, address, params, pr, a.now())
	if err != nil {
		return describeReadError(address, err)
	}
	return writeJSON(a.stdout, r)
}

// credentialFlags are the flags that say how to talk to a device, for the
// commands that take them on the command line.
type credentialFlags struct {
	version, community, user, securityLevel   *string
	authProtocol, authPassphrase              *string
	privProtocol, privPassphrase, contextName *string
	timeout                                   *time.Duration
	retries                                   *int
}

func addCredentialFlags(fs *flag.FlagSet, timeout time.Duration) *credentialFlags {
	return &credentialFlags{
		version:        fs.String("version", "2c", "SNMP version: 1, 2c or 3"),
		community:      fs.String("community", "", "SNMP v1/v2c community (default $"+config.EnvSNMPCommunity+", else \"public\")"),
		user:           fs.String("user", "", "SNMPv3 user name"),
		securityLevel:  fs.String("security-level", "", "SNMPv3 security level: noAuthNoPriv, authNoPriv or authPriv (default: the strongest the passphrases given allow)"),
		authProtocol:   fs.String("auth-protocol", "SHA", "SNMPv3 authentication protocol: MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512"),
		authPassphrase: fs.String("auth-passphrase", "", "SNMPv3 authentication passphrase (better: $"+config.EnvSNMPAuthPassphrase+", which stays out of the process list)"),
		privProtocol:   fs.String("priv-protocol", "AES", "SNMPv3 privacy protocol: DES, AES, AES-192, AES-256, AES-192C or AES-256C"),
		privPassphrase: fs.String("priv-passphrase", "", "SNMPv3 privacy passphrase (better: $"+config.EnvSNMPPrivPassphrase+")"),
		contextName:    fs.String("context", "", "SNMPv3 context name (some HP Jetdirects want \"Jetdirect\")"),
		timeout:        fs.Duration("timeout", timeout, "how long to wait for each answer"),
		retries:        fs.Int("retries", 0, "how many times to ask again after a timeout"),
	}
}

// params checks the flags and turns them into SNMP parameters; secrets
// not given as flags come from the environment.
func (f *credentialFlags) params(getenv func(string) string) (snmp.Params, error) {
	ver, err := snmp.ParseVersion(*f.version)
	if err != nil {
		return snmp.Params{}, fmt.Errorf("--version: %w", err)
	}
	if *f.timeout <= 0 || *f.retries < 0 {
		return snmp.Params{}, errors.New("--timeout must be positive and --retries not negative")
	}
	p := snmp.Params{Version: ver, Timeout: *f.timeout, Retries: *f.retries}
	if ver != snmp.Version3 {
		p.Community = cmp.Or(*f.community, getenv(config.EnvSNMPCommunity), snmp.DefaultCommunity)
		return p, nil
	}
	if *f.community != "" {
		return snmp.Params{}, errors.New("--community: SNMPv3 has no community; use --user and the passphrases")
	}
	p.USM = snmp.USM{
		User:           *f.user,
		AuthPassphrase: cmp.Or(*f.authPassphrase, getenv(config.EnvSNMPAuthPassphrase)),
		PrivPassphrase: cmp.Or(*f.privPassphrase, getenv(config.EnvSNMPPrivPassphrase)),
		ContextName:    *f.contextName,
	}
	if *f.securityLevel != "" {
		if p.SecurityLevel, err = snmp.ParseSecurityLevel(*f.securityLevel); err != nil {
			return snmp.Params{}, fmt.Errorf("--security-level: %w", err)
		}
	}
	level := p.SecurityLevel
	if level == "" {
		// The strongest level the passphrases given allow.
		switch {
		case p.AuthPassphrase != "" && p.PrivPassphrase != "":
			level = snmp.AuthPriv
		case p.AuthPassphrase != "":
			level = snmp.AuthNoPriv
		default:
			level = snmp.NoAuthNoPriv
		}
		p.SecurityLevel = level
	}
	if level != snmp.NoAuthNoPriv {
		if p.AuthProtocol, err = snmp.ParseAuthProtocol(*f.authProtocol); err != nil {
			return snmp.Params{}, fmt.Errorf("--auth-protocol: %w", err)
		}
	}
	if level == snmp.AuthPriv {
		if p.PrivProtocol, err = snmp.ParsePrivProtocol(*f.privProtocol); err != nil {
			return snmp.Params{}, fmt.Errorf("--priv-protocol: %w", err)
		}
	}
	if err := p.Validate(); err != nil {
		return snmp.Params{}, fmt.Errorf("SNMPv3: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return p, nil
}

func readOne(ctx context.Context, dial snmp.DialFunc, address string, p snmp.Params, pr printer.Reader, now time.Time) (wire.DeviceRead, error) {
	c, err := dial(ctx, address, p)
	if err != nil {
		return wire.DeviceRead{}, err
	}
	defer c.Close()
	return pr.Read(ctx, c, address, now)
}

// describeReadError says in one line what went wrong and what to check.
func describeReadError(address string, err error) error {
	var na *snmp.NoAnswerError
	var np *printer.NotPrinterError
	switch {
	case errors.As(err, &na):
		return fmt.Errorf("%s (wrong address, community or SNMP version?)", na.Error())
	case snmp.IsAuthFailure(err):
		var ae *snmp.AuthError
		errors.As(err, &ae)
		return ae
	case errors.As(err, &np):
		if np.SysDescr == "" {
			return fmt.Errorf("%s answers SNMP but is not a printer (no Printer-MIB, no printer in hrDeviceTable)", address)
		}
		return fmt.Errorf("%s answers SNMP but is not a printer (no Printer-MIB, no printer in hrDeviceTable): %q", address, np.SysDescr)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("read %s: interrupted", address)
	default:
		return fmt.Errorf("read %s: %w", address, err)
	}
}

// writeJSON prints v as indented JSON, the wire format's field names.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
