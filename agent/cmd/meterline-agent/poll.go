package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/discover"
	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/poll"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// pollOnce is "meterline-agent poll": one round over the configured
// targets, with the daemon's credentials and concurrency, printed instead
// of published. It answers "what will the agent send?" and is what the
// agent-poll benchmark times.
func (a *app) pollOnce(ctx context.Context, args []string) error {
	fs := a.flagSet("poll", "--config FILE [flags]")
	path := fs.String("config", "", "the agent's TOML configuration file")
	asJSON := fs.Bool("json", false, "print each read as one line of JSON (a wire.DeviceRead) instead of a table")
	levelName := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(a.stderr, "poll: --config is required (meterline-agent -sample-config prints an example)")
		fs.Usage()
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*levelName)); err != nil {
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", *levelName)
	}
	cfg, err := config.Load(*path, a.env)
	if err != nil {
		return err
	}
	log := newLogger(a.stderr, level)
	pr, err := printerReader(cfg.ProfilesFile)
	if err != nil {
		return err
	}
	pr.Log = log
	reader := poll.NewCredentialReader(a.dial, cfg.SNMPCredentials(), a.now)
	reader.Printer = pr
	targets := cfg.Targets
	if len(cfg.Ranges) > 0 {
		// Like the daemon's first round: the targets plus the printers a
		// sweep of the ranges finds, each with the credential that worked.
		ranges, err := netrange.Parse(cfg.Ranges, cfg.Exclude)
		if err != nil {
			return fmt.Errorf("ranges: %w", err)
		}
		found, err := discover.Sweep(ctx, a.dial, ranges.All(), discover.Options{
			Port: cfg.DiscoveryUDPPort(), Concurrency: cfg.DiscoveryConcurrency,
			Credentials: cfg.DiscoveryCredentials(), ReadTimeout: cfg.DeviceTimeout.Duration, Now: a.now,
			Printer: pr,
		}, log)
		if err != nil {
			return fmt.Errorf("discover: %w", err)
		}
		fmt.Fprintln(a.stderr, "discovery:", found.Summary())
		for _, d := range found.Devices {
			reader.Use(d.Address, d.Credential)
		}
		targets = discover.Targets(cfg.Targets, found.Devices)
	}
	poller := poll.New(reader.Read, poll.Options{DeviceTimeout: cfg.DeviceTimeout.Duration, Concurrency: cfg.Concurrency}, log)
	res := poller.ReadAll(ctx, targets)
	if *asJSON {
		err = writeJSONLines(a.stdout, res.Reads)
	} else {
		err = writeTable(a.stdout, res)
	}
	if err != nil {
		return err
	}
	for _, e := range res.Errors {
		fmt.Fprintln(a.stderr, describeReadError(e.Target, e.Err))
	}
	if len(res.Reads) == 0 && len(targets) > 0 {
		return errors.New("poll: no printer answered")
	}
	return nil
}

func writeJSONLines(w io.Writer, reads []wire.DeviceRead) error {
	enc := json.NewEncoder(w)
	for _, r := range reads {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write read of %s: %w", r.Address, err)
		}
	}
	return nil
}

// writeTable prints one line per device read: what a person checks first.
func writeTable(w io.Writer, res poll.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSERIAL\tVENDOR\tMODEL\tTOTAL\tBLACK\tCOLOUR\tLOWEST SUPPLY")
	for _, r := range res.Reads {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Address, orDash(r.Serial), orDash(r.Vendor), orDash(r.Model),
			counter(r, domain.CounterTotal), counter(r, domain.CounterBlack), counter(r, domain.CounterColour), lowestSupply(r))
	}
	fmt.Fprintf(tw, "\n%d read, %d failed\n", len(res.Reads), len(res.Errors))
	return tw.Flush()
}

func counter(r wire.DeviceRead, kind domain.CounterKind) string {
	if v, ok := r.Counter(kind); ok {
		return strconv.FormatInt(v, 10)
	}
	return "-"
}

// lowestSupply names the consumable with the least left, among those whose
// level is measured.
func lowestSupply(r wire.DeviceRead) string {
	best := -1
	name := "-"
	for _, s := range r.Supplies {
		if s.Percent == nil || s.Receptacle {
			continue
		}
		if best < 0 || *s.Percent < best {
			best = *s.Percent
			label := s.Colour
			if label == "" {
				label = string(s.Kind)
			}
			name = fmt.Sprintf("%s %d%%", label, best)
		}
	}
	return name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
