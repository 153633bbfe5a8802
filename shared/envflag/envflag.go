// Package envflag gives command-line flags environment variables. Flag
// defaults stay the static ones, and the environment is applied after
// parsing to the flags not given: so -h never prints a value taken from
// the environment (a database URL with its password), and a flag still
// overrides its variable.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Given returns the names of the flags set on the command line.
func Given(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// Apply sets each flag named in vars (flag name → variable name) that
// was not given on the command line from its variable, when that is set
// and not empty. The flag parses the value; an error names the variable.
func Apply(fs *flag.FlagSet, vars map[string]string, getenv func(string) string) error {
	given := Given(fs)
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env, ok := vars[f.Name]
		if !ok || given[f.Name] {
			return
		}
		if v := getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// SecretSource names where a secret can be given: a flag with the value,
// a flag with a file holding it, and the same two environment variables.
type SecretSource struct {
	What                         string // "database URL"
	Flag, FlagFile, Env, EnvFile string
}

// ResolveSecret picks the secret from, in order, the two flags, then the
// two environment variables; "" when none is set. Setting both of a pair
// is a mistake worth stopping for: which one wins would be a guess.
func ResolveSecret(src SecretSource, flagValue, flagFile string, getenv func(string) string) (string, error) {
	if s, ok, err := src.pick(flagValue, flagFile, src.Flag, src.FlagFile); ok || err != nil {
		return s, err
	}
	s, _, err := src.pick(getenv(src.Env), getenv(src.EnvFile), src.Env, src.EnvFile)
	return s, err
}

func (src SecretSource) pick(value, file, valueName, fileName string) (string, bool, error) {
	switch {
	case value != "" && file != "":
		return "", false, fmt.Errorf("%s: both %s and %s are set; keep one", src.What, valueName, fileName)
	case value != "":
		return value, true, nil
	case file != "":
		b, err := os.ReadFile(file) //nolint:gosec // the operator names the secret file to read
		if err != nil {
			return "", false, fmt.Errorf("%s: %s: %w", src.What, fileName, err)
		}
		// Files written by editors and `echo` end in a newline that is
		// not part of the secret.
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", false, fmt.Errorf("%s: %s: %s is empty", src.What, fileName, file)
		}
		return v, true, nil
	}
	return "", false, nil
}
