package auth

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHashAndVerify(t *testing.T) {
	h, err := NewHasher(TestParams)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash("correct horse 1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string of the parameters", enc)
	}
	if again, _ := h.Hash("correct horse 1"); again == enc {
		t.Error("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"right", "correct horse 1", true},
		{"wrong", "correct horse 2", false},
		{"empty", "", false},
		{"case", "Correct horse 1", false},
	}
	for _, tt := range tests {
		ok, rehash, err := h.Verify(enc, tt.password)
		if err != nil || ok != tt.ok || rehash {
			t.Errorf("%s: Verify = %v, %v, %v; want %v, false, nil", tt.name, ok, rehash, err, tt.ok)
		}
	}
}

func TestVerifyAsksForARehashWhenParametersChange(t *testing.T) {
	old, _ := NewHasher(Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	enc, _ := old.Hash("correct horse 1")
	cur, _ := NewHasher(TestParams)
	ok, rehash, err := cur.Verify(enc, "correct horse 1")
	if !ok || !rehash || err != nil {
		t.Errorf("Verify of an old-parameter hash = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if ok, rehash, _ := cur.Verify(enc, "wrong horse 1"); ok || rehash {
		t.Errorf("a wrong password asks for a rehash or passes")
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h, _ := NewHasher(TestParams)
	for _, enc := range []string{
		"", "plain", "$2a$10$abcdefghijklmnopqrstuu", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$c2hvcnQ",
	} {
		if ok, _, err := h.Verify(enc, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", enc, ok, err)
		}
	}
	h.VerifyNothing("anything") // must not panic
}

func TestNewHasherRefusesWeakParameters(t *testing.T) {
	if _, err := NewHasher(Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}); err == nil {
		t.Error("t=0 accepted")
	}
	h, err := NewHasher(Params{})
	if err != nil || h.params != DefaultParams {
		t.Errorf("zero parameters: %v, %+v; want the defaults", err, h)
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		password, email string
		want            []Rule
	}{
		{"correct horse 1", "zoe@example.com", nil},
		{"Tr0mpette-bleue", "zoe@example.com", nil},
		{"short 1", "zoe@example.com", []Rule{RuleTooShort}},
		{"onlylettershere", "zoe@example.com", []Rule{RuleNoSymbol}},
		{"zoe@example.com", "ZOE@example.com", []Rule{RuleIsEmail}},
		{"jean.picard-2024", "jean.picard@abcco.com", []Rule{RuleIsEmail}},
		{"Password1234!", "zoe@example.com", []Rule{RuleTooCommon}},
		{"motdepasse2024", "zoe@example.com", []Rule{RuleTooCommon}},
		{"123456789012", "zoe@example.com", []Rule{RuleTooCommon}},
		{"aaaaaaaaaaaa", "zoe@example.com", []Rule{RuleNoSymbol, RuleTooCommon}},
		{strings.Repeat("x1", 65), "zoe@example.com", []Rule{RuleTooLong}},
		{"éèêëàâäôöûü1", "zoe@example.com", nil}, // 12 characters, more bytes
	}
	for _, tt := range tests {
		if got := CheckPassword(tt.password, tt.email); !slices.Equal(got, tt.want) {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.password, tt.email, got, tt.want)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := NewToken()
	if a == b || bytes.Equal(ha, hb) {
		t.Error("two tokens are equal")
	}
	if len(a) != 43 || !bytes.Equal(HashToken(a), ha) || len(ha) != 32 {
		t.Errorf("token %q (%d chars), hash %x", a, len(a), ha)
	}
}

func TestSessionPolicyExpired(t *testing.T) {
	p := SessionPolicy{Idle: time.Hour, MaxAge: 12 * time.Hour}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	end := t0.Add(p.MaxAge)
	tests := []struct {
		name          string
		lastSeen, now time.Time
		expired       bool
	}{
		{"fresh", t0, t0.Add(time.Minute), false},
		{"idle just under", t0, t0.Add(time.Hour - time.Second), false},
		{"idle reached", t0, t0.Add(time.Hour), true},
		{"active but past max age", end.Add(-time.Minute), end, true},
	}
	for _, tt := range tests {
		if got := p.Expired(tt.lastSeen, end, tt.now); got != tt.expired {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.expired)
		}
	}
}
