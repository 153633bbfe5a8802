package envflag_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/envflag"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantName  string
		wantCount int
		wantErr   string
	}{
		{"defaults", nil, nil, "default", 1, ""},
		{"environment", nil, map[string]string{"NAME": "env", "COUNT": "7"}, "env", 7, ""},
		{"flags win", []string{"-name", "flag", "-count", "2"}, map[string]string{"NAME": "env", "COUNT": "7"}, "flag", 2, ""},
		{"empty variable is unset", nil, map[string]string{"NAME": ""}, "default", 1, ""},
		{"bad value names the variable", nil, map[string]string{"COUNT": "many"}, "default", 1, "COUNT: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			name := fs.String("name", "default", "")
			count := fs.Int("count", 1, "")
			fs.String("other", "x", "") // no variable
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := envflag.Apply(fs, map[string]string{"name": "NAME", "count": "COUNT"}, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Apply error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *name != tt.wantName || *count != tt.wantCount {
				t.Errorf("name %q count %d, want %q %d", *name, *count, tt.wantName, tt.wantCount)
			}
		})
	}
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := envflag.SecretSource{What: "database URL", Flag: "-database", FlagFile: "-database-file", Env: "DB", EnvFile: "DB_FILE"}
	tests := []struct {
		name            string
		value, fromFile string
		env             map[string]string
		want, wantErr   string
	}{
		{"none", "", "", nil, "", ""},
		{"flag", "from-flag", "", map[string]string{"DB": "from-env"}, "from-flag", ""},
		{"flag file", "", file, map[string]string{"DB": "from-env"}, "from-file", ""},
		{"environment", "", "", map[string]string{"DB": "from-env"}, "from-env", ""},
		{"environment file", "", "", map[string]string{"DB_FILE": file}, "from-file", ""},
		{"both flags", "x", file, nil, "", "both -database and -database-file"},
		{"both variables", "", "", map[string]string{"DB": "x", "DB_FILE": file}, "", "both DB and DB_FILE"},
		{"empty file", "", empty, nil, "", "is empty"},
		{"missing file", "", filepath.Join(dir, "missing"), nil, "", "-database-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envflag.ResolveSecret(src, tt.value, tt.fromFile, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveSecret error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
