// Command meterline-printersim serves simulated network printers over SNMP
// v1/v2c — the built-in demo fleet or snmprec recordings — for demos, tests
// and benchmarks of the Meterline agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		fmt.Fprintln(os.Stderr, "meterline-printersim:", err)
		stop()
		os.Exit(1)
	}
}
