package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password rules. Seed 002 says there are rules "concerning the minimum
// length and the use of special characters" without stating them; these
// are the ones the pages state: length first (NIST SP 800-63B), one
// character that is not a letter (the seed's special character), neither
// the e-mail address nor a password everyone tries.
const (
	MinPasswordLen = 12
	// MaxPasswordLen bounds the work a password costs to hash.
	MaxPasswordLen = 128
)

// Rule is a password rule a password breaks, named for the page's message.
type Rule string

// Rules.
const (
	RuleTooShort  Rule = "too_short"
	RuleTooLong   Rule = "too_long"
	RuleNoSymbol  Rule = "no_symbol"
	RuleIsEmail   Rule = "is_email"
	RuleTooCommon Rule = "too_common"
)

// AllRules lists the rules in the order the page states them.
var AllRules = []Rule{RuleTooShort, RuleNoSymbol, RuleIsEmail, RuleTooCommon}

// CheckPassword returns the rules password breaks for the user of e-mail
// address email; none means it is acceptable.
func CheckPassword(password, email string) []Rule {
	var broken []Rule
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		broken = append(broken, RuleTooShort)
	case n > MaxPasswordLen:
		broken = append(broken, RuleTooLong)
	}
	if !strings.ContainsFunc(password, func(r rune) bool { return !unicode.IsLetter(r) }) {
		broken = append(broken, RuleNoSymbol)
	}
	lower := strings.ToLower(strings.TrimSpace(password))
	email = strings.ToLower(strings.TrimSpace(email))
	local, _, _ := strings.Cut(email, "@")
	if email != "" && (lower == email || (len(local) >= 4 && strings.Contains(lower, local))) {
		broken = append(broken, RuleIsEmail)
	}
	if common(lower) {
		broken = append(broken, RuleTooCommon)
	}
	return broken
}

// commonPasswords are passwords, and stems of passwords, that lists of
// leaked passwords put first, in English and French, plus the product's
// own name.
var commonPasswords = []string{
	"password", "passw0rd", "motdepasse", "mot de passe", "123456", "1234567890", "qwerty", "azerty",
	"qwertyuiop", "azertyuiop", "letmein", "welcome", "bienvenue", "iloveyou", "jetaime", "admin",
	"administrator", "administrateur", "monkey", "dragon", "football", "soleil", "sunshine", "princess",
	"baseball", "abc123", "changeme", "secret", "meterline", "xerox", "printer", "imprimante",
	"trustno1", "starwars", "superman", "master", "hello", "bonjour", "loulou", "doudou", "chouchou",
}

// common reports whether a lower-case password is a common one, or a
// common stem with digits and symbols around it ("Password123!"), or one
// character repeated.
func common(lower string) bool {
	stem := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, c := range commonPasswords {
		if lower == c || stem == c {
			return true
		}
	}
	if lower == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(lower)
	return strings.Trim(lower, string(first)) == "" || isSequence(lower)
}

// isSequence reports whether s is a run of consecutive characters, such
// as 123456789012 or abcdefghijkl.
func isSequence(s string) bool {
	rs := []rune(s)
	if len(rs) < 2 {
		return false
	}
	for i := 1; i < len(rs); i++ {
		if d := rs[i] - rs[i-1]; d != 1 && !(rs[i-1] == '9' && rs[i] == '0') {
			return false
		}
	}
	return true
}
