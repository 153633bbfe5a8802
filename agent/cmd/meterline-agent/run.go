package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/buildinfo"
)

const usage = `usage: meterline-agent <command> [flags]

commands:
  run --config FILE          poll the configured printers and publish their reads
  poll --config FILE         poll the configured printers once and print what they say
  read --target HOST[:PORT]  read one printer and print the read as JSON
  discover --range RANGE     find the printers in address ranges
  version                    print the version

flags:
  -sample-config             print a commented example configuration
  -config-dump --config FILE print the effective configuration, secrets redacted

Run "meterline-agent <command> -h" for the flags of a command.
`

// errUsage says that the command line was wrong and the problem has
// already been printed.
var errUsage = errors.New("usage")

// app holds what the commands take from the outside world, so that tests
// can replace the network and the clock.
type app struct {
	stdout, stderr io.Writer
	env            config.Env
	dial           snmp.DialFunc
	now            func() time.Time
}

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{stdout: stdout, stderr: stderr, env: config.OSEnv(), dial: snmp.Dial, now: time.Now}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return errUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return a.daemon(ctx, rest)
	case "poll":
		return a.pollOnce(ctx, rest)
	case "read":
		return a.read(ctx, rest)
	case "discover":
		return a.discover(ctx, rest)
	case "version":
		fmt.Fprintln(a.stdout, "meterline-agent", buildinfo.Get())
		return nil
	case "-sample-config", "--sample-config":
		_, err := a.stdout.Write(config.Sample())
		return err
	case "-config-dump", "--config-dump":
		return a.daemon(ctx, append([]string{"-config-dump"}, rest...))
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, usage)
		return nil
	default:
		fmt.Fprintf(a.stderr, "meterline-agent: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

// flagSet returns a FlagSet that reports its errors on stderr.
func (a *app) flagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: meterline-agent %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning -h into success and errors into errUsage
// (the flag package has printed them).
func parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return false, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return false, errUsage
	}
	return false, nil
}

// exitCode prints err, on one line, and returns the process exit code:
// 0 for success, 2 for a wrong command line, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "meterline-agent: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
}
