package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/discover"
	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
)

// discover is "meterline-agent discover": it sweeps address ranges and
// lists the printers found, with the credential that worked on each.
func (a *app) discover(ctx context.Context, args []string) error {
	fs := a.flagSet("discover", "--range CIDR|A-B [--range …] [flags]")
	var ranges, excludes stringList
	fs.Var(&ranges, "range", "addresses to sweep: CIDR (10.1.0.0/22), A-B (10.1.4.10-10.1.4.50) or one address; repeat, or separate with commas (default: the ranges of --config)")
	fs.Var(&excludes, "exclude", "addresses to leave out, same syntax; repeat, or separate with commas")
	path := fs.String("config", "", "take the credentials (tried in order), ranges and discovery settings from this agent configuration file")
	port := fs.Int("port", snmp.DefaultPort, "SNMP port to probe on every address")
	concurrency := fs.Int("concurrency", discover.DefaultConcurrency, "how many addresses to probe at once")
	asJSON := fs.Bool("json", false, "print each printer as one line of JSON instead of a table")
	levelName := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	cf := addCredentialFlags(fs, discover.DefaultTimeout)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*levelName)); err != nil {
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", *levelName)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	opts := discover.Options{Concurrency: *concurrency, Now: a.now}
	if *path != "" {
		for _, name := range []string{"version", "community", "user", "security-level", "auth-protocol", "auth-passphrase", "priv-protocol", "priv-passphrase", "context"} {
			if given[name] {
				return fmt.Errorf("--%s: the credentials come from --config; give one or the other", name)
			}
		}
		cfg, err := config.Load(*path, a.env)
		if err != nil {
			return err
		}
		if opts.Printer, err = printerReader(cfg.ProfilesFile); err != nil {
			return err
		}
		if len(ranges) == 0 {
			ranges, excludes = cfg.Ranges, append(excludes, cfg.Exclude...)
		}
		opts.Credentials = cfg.DiscoveryCredentials()
		if !given["concurrency"] {
			opts.Concurrency = cfg.DiscoveryConcurrency
		}
		if !given["port"] {
			*port = cfg.DiscoveryPort
		}
		for i := range opts.Credentials {
			if given["timeout"] {
				opts.Credentials[i].Params.Timeout = *cf.timeout
			}
			opts.Credentials[i].Params.Retries = *cf.retries
		}
	} else {
		params, err := cf.params(a.env.Getenv)
		if err != nil {
			return err
		}
		opts.Credentials = []snmp.Credential{{Name: credentialNameOf(params), Params: params}}
	}
	if len(ranges) == 0 {
		fmt.Fprintln(a.stderr, "discover: --range is required (or ranges in the --config file)")
		fs.Usage()
		return errUsage
	}
	if *port < 1 || *port > 65535 || *concurrency < 1 {
		return errors.New("--port must be 1 to 65535 and --concurrency positive")
	}
	opts.Port = uint16(*port)
	set, err := netrange.Parse(ranges, excludes)
	if err != nil {
		return fmt.Errorf("--range: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}

	log := newLogger(a.stderr, level)
	log.Info("sweeping", "ranges", set.String(), "addresses", set.Len(), "credentials", len(opts.Credentials))
	started := time.Now()
	res, err := discover.Sweep(ctx, a.dial, set.All(), opts, log)
	if errors.Is(err, context.Canceled) {
		err = errors.New("discover: interrupted")
	}
	log.Info("sweep done", "duration_seconds", time.Since(started).Seconds())
	if *asJSON {
		if werr := writeDevicesJSON(a.stdout, res.Devices); werr != nil {
			return werr
		}
		fmt.Fprintln(a.stderr, res.Summary())
	} else if werr := writeDevicesTable(a.stdout, res); werr != nil {
		return werr
	}
	return err
}

// credentialNameOf names the one credential given by flags, as the
// results show it.
func credentialNameOf(p snmp.Params) string {
	if p.Version == snmp.Version3 {
		return "v3:" + p.User
	}
	return "v" + string(p.Version)
}

func writeDevicesJSON(w io.Writer, devs []discover.Device) error {
	enc := json.NewEncoder(w)
	for _, d := range devs {
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("write %s: %w", d.Address, err)
		}
	}
	return nil
}

func writeDevicesTable(w io.Writer, res discover.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tCREDENTIAL\tSERIAL\tVENDOR\tMODEL")
	for _, d := range res.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Address, d.Credential, orDash(d.Serial), orDash(d.Vendor), orDash(d.Model))
	}
	fmt.Fprintf(tw, "\n%s\n", res.Summary())
	return tw.Flush()
}

// stringList is a flag that may be repeated.
type stringList []string

// String implements flag.Value.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
