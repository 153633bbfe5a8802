package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
)

const credentialsText = `
targets = ["192.0.2.10"]
ranges = ["127.1.0.0/22", "127.1.4.10-127.1.4.50"]
exclude = ["127.1.0.1"]
discovery_interval = "0"
discovery_concurrency = 16
[[credentials]]
name = "office"
version = "2c"
community = "public"
[[credentials]]
name = "secure"
version = 3
user = "meterline"
security_level = "authPriv"
auth_protocol = "SHA256"
auth_passphrase = "from-file-auth"
priv_protocol = "aes"
context_name = "Jetdirect"
[snmp]
timeout = "3s"
retries = 2
`

func TestParseCredentials(t *testing.T) {
	c, err := Parse([]byte(credentialsText), testEnv(map[string]string{
		"METERLINE_CREDENTIAL_SECURE_PRIV_PASSPHRASE": "from-env-priv",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.SNMPCredentials()
	want := []snmp.Credential{
		{Name: "office", Params: snmp.Params{Version: snmp.Version2c, Community: "public", Timeout: 3 * time.Second, Retries: 2}},
		{Name: "secure", Params: snmp.Params{Version: snmp.Version3, Timeout: 3 * time.Second, Retries: 2, USM: snmp.USM{
			User: "meterline", SecurityLevel: snmp.AuthPriv, AuthProtocol: snmp.AuthSHA256, AuthPassphrase: "from-file-auth",
			PrivProtocol: snmp.PrivAES, PrivPassphrase: "from-env-priv", ContextName: "Jetdirect"}}},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("credentials\n got %#v\nwant %#v", got, want)
	}
	if got[1].Params.PrivPassphrase != "from-env-priv" || got[1].Params.AuthPassphrase != "from-file-auth" {
		t.Errorf("passphrases not taken from the environment and the file")
	}
	disc := c.DiscoveryCredentials()
	if disc[1].Params.Timeout != time.Second || disc[1].Params.Retries != 0 || disc[1].Name != "secure" {
		t.Errorf("discovery credential %v: want the discovery timeout and no retries", disc[1])
	}
	if c.DiscoveryInterval.Duration != 0 || c.DiscoveryPort != 161 || c.DiscoveryConcurrency != 16 ||
		strings.Join(c.Ranges, " ") != "127.1.0.0/22 127.1.4.10-127.1.4.50" || strings.Join(c.Exclude, " ") != "127.1.0.1" {
		t.Errorf("discovery settings: %v %d %d %q %q", c.DiscoveryInterval, c.DiscoveryPort, c.DiscoveryConcurrency, c.Ranges, c.Exclude)
	}
}

func TestDefaultCredential(t *testing.T) {
	c, err := Parse([]byte("ranges = [\"127.1.0.0/24\"]\n[snmp]\ncommunity = \"site\"\n"), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.SNMPCredentials()
	if len(got) != 1 || got[0].Name != DefaultCredential || got[0].Params != c.SNMP.Params() || got[0].Params.Community != "site" {
		t.Errorf("credentials %v: want [snmp] as the one credential, %q", got, DefaultCredential)
	}
}

func TestCredentialErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"no name", "[[credentials]]\nversion = \"2c\"\ncommunity = \"x\"\n", []string{"credentials[0].name: must be set"}},
		{"bad name", "[[credentials]]\nname = \"a b\"\nversion = \"2c\"\ncommunity = \"x\"\n", []string{`credentials[0] (a b).name: "a b" must be`}},
		{"same name", "[[credentials]]\nname = \"a\"\nversion = \"2c\"\ncommunity = \"x\"\n[[credentials]]\nname = \"A\"\nversion = \"2c\"\ncommunity = \"y\"\n",
			[]string{`credentials[1] (A).name: "A" is the name of credentials[0] too`}},
		{"no version", "[[credentials]]\nname = \"a\"\ncommunity = \"x\"\n", []string{`credentials[0] (a).version: must be set to 1, "2c" or "3"`}},
		{"bad version", "[[credentials]]\nname = \"a\"\nversion = 2\n", []string{`credentials[0] (a).version: SNMP version "2" is not supported`}},
		{"v2c without community", "[[credentials]]\nname = \"office\"\nversion = \"2c\"\n",
			[]string{"credentials[0] (office).community: must be set for SNMP version 2c (or set METERLINE_CREDENTIAL_OFFICE_COMMUNITY)"}},
		{"v2c with v3 keys", "[[credentials]]\nname = \"a\"\nversion = \"2c\"\ncommunity = \"x\"\nuser = \"u\"\n", []string{`set version = "3"`}},
		{"v3 without level", "[[credentials]]\nname = \"s\"\nversion = 3\nuser = \"u\"\n", []string{"credentials[0] (s).security_level: must be set"}},
		{"v3 bad protocols", "[[credentials]]\nname = \"s\"\nversion = 3\nuser = \"u\"\nsecurity_level = \"authPriv\"\nauth_protocol = \"SHA-3\"\npriv_protocol = \"ROT13\"\nauth_passphrase = \"12345678\"\npriv_passphrase = \"12345678\"\n",
			[]string{`credentials[0] (s).auth_protocol: authentication protocol "SHA-3" is not`, `credentials[0] (s).priv_protocol: privacy protocol "ROT13" is not`}},
		{"v3 bad level", "[[credentials]]\nname = \"s\"\nversion = 3\nuser = \"u\"\nsecurity_level = \"authOnly\"\n", []string{`credentials[0] (s).security_level: security level "authOnly"`}},
		{"v3 authPriv incomplete", "[[credentials]]\nname = \"secure\"\nversion = 3\nuser = \"u\"\nsecurity_level = \"authPriv\"\nauth_protocol = \"SHA\"\nauth_passphrase = \"short\"\n",
			[]string{"(secure).auth_passphrase: shorter than 8 characters", "(secure).priv_protocol: must be set for security_level authPriv",
				"(secure).priv_passphrase: must be set for security_level authPriv (at least 8 characters), here or in METERLINE_CREDENTIAL_SECURE_PRIV_PASSPHRASE"}},
		{"v3 key the level does not use", "[[credentials]]\nname = \"s\"\nversion = 3\nuser = \"u\"\nsecurity_level = \"noAuthNoPriv\"\nauth_protocol = \"SHA\"\n",
			[]string{"(s).auth_protocol: set, but security_level noAuthNoPriv does not use it"}},
		{"v3 with community", "[[credentials]]\nname = \"s\"\nversion = 3\nuser = \"u\"\nsecurity_level = \"noAuthNoPriv\"\ncommunity = \"x\"\n",
			[]string{"(s).community: SNMPv3 has no community"}},
		{"snmp beside credentials", "[[credentials]]\nname = \"a\"\nversion = \"2c\"\ncommunity = \"x\"\n[snmp]\ncommunity = \"y\"\n",
			[]string{"snmp.version, snmp.community: set beside [[credentials]]"}},
		{"snmp v3", "[snmp]\nversion = 3\n", []string{`snmp.version: "3" is not supported here: SNMPv3 needs a user and keys, in a [[credentials]] entry`}},
		{"unknown credential key", "[[credentials]]\nname = \"a\"\nversion = \"2c\"\ncommunity = \"x\"\npassword = \"y\"\n", []string{`unknown key "credentials.password" at line 6`}},
		{"ranges", "ranges = [\"127.0.0.0/8\", \"127.1.0.x\"]\nexclude = [\"127.1.0.1/24\"]\n",
			[]string{`ranges: "127.0.0.0/8" is larger than a /16`, `"127.1.0.x" is not an IPv4 address`, `exclude: "127.1.0.1/24" has host bits set`}},
		{"discovery settings", "ranges = [\"127.1.0.0/24\"]\ndiscovery_interval = \"10ms\"\ndiscovery_port = 0\ndiscovery_concurrency = 5000\ndiscovery_timeout = \"0s\"\n",
			[]string{"discovery_interval: 10ms is below the minimum of 1s", "discovery_port: 0 is not between 1 and 65535",
				"discovery_concurrency: 5000 is not between 1 and 1024", "discovery_timeout: 0s is not between 0 and 1m"}},
		{"neither targets nor ranges", "discovery_port = 161\n", []string{"or ranges to discover printers in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if !strings.Contains(text, "ranges") && tt.name != "neither targets nor ranges" {
				text = "targets = [\"192.0.2.1\"]\n" + text
			}
			_, err := Parse([]byte(text), testEnv(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestCredentialSecretsRedacted prints, logs and marshals a configuration
// with every kind of secret and finds none of them.
func TestCredentialSecretsRedacted(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(credentialsText, `community = "public"`, `community = "s3cret-community"`, 1)),
		testEnv(map[string]string{"METERLINE_CREDENTIAL_SECURE_PRIV_PASSPHRASE": "hunter2-priv"}))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("config", "config", c, "credentials", c.Credentials, "snmp", c.SNMPCredentials())
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v %+v", c.SNMPCredentials(), c.DiscoveryCredentials()), string(j), logs.String()} {
		for _, secret := range []string{"s3cret", "from-file-auth", "hunter2"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q leaked: %s", secret, out)
			}
		}
	}
}

// TestSampleCredentialsExample uncomments the sample's [[credentials]]
// example and loads it: the documentation must be valid.
func TestSampleCredentialsExample(t *testing.T) {
	var out []string
	inExample := false
	for _, line := range strings.Split(string(Sample()), "\n") {
		if strings.HasPrefix(line, "# [[credentials]]") {
			inExample = true
		}
		if inExample && strings.HasPrefix(line, "# ") {
			line = strings.TrimPrefix(line, "# ")
			line = strings.ReplaceAll(line, `"..."`, `"long-enough-passphrase"`)
		} else if inExample && !strings.HasPrefix(line, "#") {
			inExample = false
		}
		// The example replaces [snmp]'s version and community.
		if strings.HasPrefix(line, "version = \"2c\"") && !inExample || strings.HasPrefix(line, "community = \"public\"") && !inExample {
			continue
		}
		out = append(out, line)
	}
	c, err := Parse([]byte(strings.Join(out, "\n")), testEnv(nil))
	if err != nil {
		t.Fatalf("the sample's credentials example does not load: %v", err)
	}
	if creds := c.SNMPCredentials(); len(creds) != 2 || creds[1].Params.AuthProtocol != snmp.AuthSHA256 || creds[1].Params.Version != snmp.Version3 {
		t.Errorf("credentials %v", creds)
	}
}

func TestDumpRedactsSecrets(t *testing.T) {
	text := credentialsText + `
[mqtt]
url = "tcp://127.0.0.1:1883"
username = "agent"
`
	c, err := Parse([]byte(text), testEnv(map[string]string{
		"METERLINE_CREDENTIAL_SECURE_PRIV_PASSPHRASE": "from-env-priv",
		"METERLINE_MQTT_PASSWORD":                     "from-env-mqtt",
	}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Dump(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"from-env-priv", "from-file-auth", "from-env-mqtt", "'public'"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("dump shows the secret %s:\n%s", secret, out)
		}
	}
	// The credentials' community, auth and priv passphrases, the MQTT
	// password, and the [snmp] default community.
	if n := strings.Count(string(out), redacted); n != 5 {
		t.Errorf("dump has %d redacted secrets, want 5:\n%s", n, out)
	}
	if c.SNMPCredentials()[1].Params.PrivPassphrase != "from-env-priv" {
		t.Errorf("Dump changed the caller's credentials")
	}
}
