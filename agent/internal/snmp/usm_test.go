package snmp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func TestParseProtocols(t *testing.T) {
	auth := map[string]AuthProtocol{
		"MD5": AuthMD5, "sha": AuthSHA, "SHA1": AuthSHA, "SHA-224": AuthSHA224, "sha256": AuthSHA256,
		"SHA_384": AuthSHA384, "SHA-512": AuthSHA512,
	}
	for in, want := range auth {
		if got, err := ParseAuthProtocol(in); err != nil || got != want {
			t.Errorf("ParseAuthProtocol(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	priv := map[string]PrivProtocol{
		"DES": PrivDES, "aes": PrivAES, "AES128": PrivAES, "AES-192": PrivAES192, "AES256": PrivAES256,
		"aes-192c": PrivAES192C, "AES256C": PrivAES256C,
	}
	for in, want := range priv {
		if got, err := ParsePrivProtocol(in); err != nil || got != want {
			t.Errorf("ParsePrivProtocol(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	levels := map[string]SecurityLevel{"noauthnopriv": NoAuthNoPriv, "authNoPriv": AuthNoPriv, "AUTHPRIV": AuthPriv}
	for in, want := range levels {
		if got, err := ParseSecurityLevel(in); err != nil || got != want {
			t.Errorf("ParseSecurityLevel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []func() error{
		func() error { _, err := ParseAuthProtocol("SHA-3"); return err },
		func() error { _, err := ParsePrivProtocol("3DES"); return err },
		func() error { _, err := ParseSecurityLevel("authOnly"); return err },
		func() error { _, err := ParseVersion("2"); return err },
	} {
		if err := bad(); err == nil {
			t.Error("a bad name was accepted")
		}
	}
	if v, err := ParseVersion("v3"); err != nil || v != Version3 {
		t.Errorf("ParseVersion(v3) = %q, %v", v, err)
	}
}

func TestParamsValidate(t *testing.T) {
	full := USM{User: "meterline", SecurityLevel: AuthPriv, AuthProtocol: AuthSHA256, AuthPassphrase: "auth-pass",
		PrivProtocol: PrivAES, PrivPassphrase: "priv-pass"}
	tests := []struct {
		name string
		p    Params
		want []string // empty: valid
	}{
		{"v2c", Params{Version: Version2c, Community: "public"}, nil},
		{"v2c without community", Params{Version: Version2c}, []string{"community is empty"}},
		{"v3 authPriv", Params{Version: Version3, USM: full}, nil},
		{"v3 noAuthNoPriv", Params{Version: Version3, USM: USM{User: "u", SecurityLevel: NoAuthNoPriv}}, nil},
		{"v3 level deduced", Params{Version: Version3, USM: USM{User: "u", AuthProtocol: AuthMD5, AuthPassphrase: "12345678"}}, nil},
		{"v3 no user", Params{Version: Version3, USM: USM{SecurityLevel: NoAuthNoPriv}}, []string{"user name is empty"}},
		{"v3 short passphrase", Params{Version: Version3, USM: USM{User: "u", SecurityLevel: AuthNoPriv, AuthProtocol: AuthSHA, AuthPassphrase: "short"}},
			[]string{"authentication passphrase of at least 8 characters"}},
		{"v3 authPriv without priv", Params{Version: Version3, USM: USM{User: "u", SecurityLevel: AuthPriv, AuthProtocol: AuthSHA, AuthPassphrase: "12345678"}},
			[]string{"needs a privacy protocol", "privacy passphrase of at least 8"}},
		{"v3 auth without protocol", Params{Version: Version3, USM: USM{User: "u", SecurityLevel: AuthNoPriv, AuthPassphrase: "12345678"}},
			[]string{"needs an authentication protocol"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
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

func TestParamsStringRedacts(t *testing.T) {
	p := Params{Version: Version3, Timeout: time.Second, USM: USM{User: "meterline", SecurityLevel: AuthPriv,
		AuthProtocol: AuthSHA, AuthPassphrase: "auth-hunter2", PrivProtocol: PrivAES, PrivPassphrase: "priv-hunter2"}}
	v2 := Params{Version: Version2c, Community: "s3cret-community"}
	c := Credential{Name: "secure", Params: p}
	for _, out := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprint(v2), fmt.Sprintf("%v %+v", c, []Credential{c})} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if got := p.String(); got != `SNMPv3 user "meterline", authPriv SHA/AES, timeout 1s, 0 retries` {
		t.Errorf("String() = %q", got)
	}
}

// TestAuthFailure checks that the Reports which refuse our credentials, and
// silence after a successful engine discovery, become an *AuthError that
// names the user and the host.
func TestAuthFailure(t *testing.T) {
	tests := []struct {
		cause  error
		reason string
	}{
		{gosnmp.ErrUnknownUsername, "unknown user name"},
		{gosnmp.ErrWrongDigest, "wrong authentication passphrase"},
		{errors.New("incoming packet is not authentic, discarding"), "wrong authentication passphrase"},
		{gosnmp.ErrDecryption, "wrong privacy passphrase"},
		{gosnmp.ErrUnknownSecurityLevel, "the user does not have security level authPriv"},
	}
	for _, tt := range tests {
		t.Run(tt.cause.Error(), func(t *testing.T) {
			a := newFakeAgent(table...)
			a.silent = tt.cause
			c := newClient(nil, a, "192.0.2.1:161", Params{Version: Version3, Timeout: time.Second,
				USM: USM{User: "meterline", SecurityLevel: AuthPriv, AuthProtocol: AuthSHA, AuthPassphrase: "12345678", PrivProtocol: PrivAES, PrivPassphrase: "12345678"}})
			_, err := c.Get(context.Background(), []string{"1.3.6.1.2.1.1.1.0"})
			want := `SNMPv3 authentication failed for user "meterline" at 192.0.2.1:161: ` + tt.reason
			if !IsAuthFailure(err) || !strings.Contains(err.Error(), want) || IsNoAnswer(err) {
				t.Errorf("err = %v, want an *AuthError saying %q", err, want)
			}
		})
	}
	// Silence from a v3 agent that never answered is no answer, not a
	// refusal.
	a := newFakeAgent(table...)
	a.silent = fmt.Errorf("request timeout: %w", gosnmp.ErrMaxRetriesExceeded)
	c := newClient(nil, a, "192.0.2.1:161", Params{Version: Version3, Timeout: time.Second, USM: USM{User: "u"}})
	if _, err := c.Get(context.Background(), []string{"1.3.6.1.2.1.1.1.0"}); !IsNoAnswer(err) || IsAuthFailure(err) {
		t.Errorf("err = %v, want a *NoAnswerError", err)
	}
}
