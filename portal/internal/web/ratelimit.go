package web

import (
	"net"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// RateLimit is how many attempts of one kind are allowed in Window, per
// e-mail address and per client address.
type RateLimit struct {
	Window     time.Duration
	PerEmail   int
	PerAddress int
}

// Limits are the rate limits of the forms a guesser or a spammer would
// use.
type Limits struct {
	Login    RateLimit
	Reset    RateLimit
	Register RateLimit
}

// DefaultLimits: 5 sign-in attempts per e-mail and 50 per address in 15
// minutes (an office behind one address has many users); 3 reset e-mails
// per address an hour; 5 registrations per e-mail and 20 per address an
// hour.
var DefaultLimits = Limits{
	Login:    RateLimit{Window: 15 * time.Minute, PerEmail: 5, PerAddress: 50},
	Reset:    RateLimit{Window: time.Hour, PerEmail: 3, PerAddress: 20},
	Register: RateLimit{Window: time.Hour, PerEmail: 5, PerAddress: 20},
}

// allow records an attempt of kind for email (may be "") from the
// request's client address and reports whether it is within limit. It is
// counted in the database, so every replica sees it.
func (s *Server) allow(c echo.Context, kind string, limit RateLimit, email string) (bool, error) {
	addr := store.AddressSubject(addressKey(c.RealIP()))
	subjects := []string{addr}
	var mail string
	if email != "" {
		mail = store.EmailSubject(email)
		subjects = append(subjects, mail)
	}
	counts, err := s.store.RecordAttempt(c.Request().Context(), kind, s.now().Add(-limit.Window), subjects...)
	if err != nil {
		return false, err
	}
	if counts[addr] > limit.PerAddress || (mail != "" && counts[mail] > limit.PerEmail) {
		s.logger.Info("rate limit reached", "kind", kind, "address", c.RealIP())
		return false, nil
	}
	return true, nil
}

// addressKey is what a client address is counted as: an IPv4 address, or
// the /64 of an IPv6 one (one customer's line holds a whole /64).
func addressKey(addr string) string {
	ip := net.ParseIP(addr)
	switch {
	case ip == nil:
		return addr
	case ip.To4() != nil:
		return ip.To4().String()
	default:
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}
