// Package web is the portal's web site: an echo server rendering HTML pages
// on the server, in French or English. It is the only package that knows
// echo; handlers read the request, call the store and render a view, and
// nothing below them sees an echo.Context.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/upload"
)

// assets holds the templates and the static files, parsed and served from
// the binary itself.
//
//go:embed templates static
var assets embed.FS

// Store is what the web site needs of the database; *store.Store is it.
// Every method that reads an object inside an account takes the account's
// id, so that a page cannot reach another account's object by its id.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Sign-in: sessions, users, their accounts, attempts, one-time links.
	CreateSession(ctx context.Context, sess store.Session, replaces []byte) (store.Session, error)
	SessionUser(ctx context.Context, id []byte) (store.Session, store.User, []store.MemberAccount, error)
	TouchSession(ctx context.Context, sess store.Session) (bool, error)
	SetSessionAccount(ctx context.Context, id []byte, accountID *int64) error
	DeleteSession(ctx context.Context, id []byte) error
	MemberAccounts(ctx context.Context, userID int64) ([]store.MemberAccount, error)
	User(ctx context.Context, id int64) (store.User, error)
	UserByEmail(ctx context.Context, email string) (store.User, error)
	SetPasswordHash(ctx context.Context, id int64, hash string) error
	RehashPassword(ctx context.Context, id int64, old, hash string) error
	UpdateProfile(ctx context.Context, id int64, p store.Profile) (store.User, error)
	RecordAttempt(ctx context.Context, kind string, since time.Time, subjects ...string) (map[string]int, error)
	ClearAttempts(ctx context.Context, kind, subject string) error
	CreateOneTimeToken(ctx context.Context, t store.OneTimeToken, mails ...mail.Message) (store.OneTimeToken, error)
	OneTimeToken(ctx context.Context, kind string, hash []byte) (store.OneTimeToken, error)
	ResetPassword(ctx context.Context, hash []byte, passwordHash string) (store.User, error)
	ConfirmEmailChange(ctx context.Context, hash []byte) (store.User, error)
	Enqueue(ctx context.Context, mails ...mail.Message) error

	// Registration.
	RegistrationDevice(ctx context.Context, serial, postalCode string) (store.ContractedDevice, error)
	CompleteRegistration(ctx context.Context, hash []byte, passwordHash string, mailsFor func(store.RegistrationOutcome) []mail.Message) (store.RegistrationOutcome, error)
	RequestSerialLink(ctx context.Context, l store.SerialLink, mails ...mail.Message) (store.Request, error)

	// My equipment and shipping details (equipment.go, shipping.go).
	AccountEquipmentPage(ctx context.Context, accountID int64, automaticWithin time.Duration, limit, offset int) (store.EquipmentPage, error)
	AccountEquipmentDevice(ctx context.Context, accountID, deviceID int64) (store.ContractedDevice, error)
	AddDevice(ctx context.Context, accountID, userID int64, serial, postalCode string) (store.AddDeviceResult, error)
	RequestRemoval(ctx context.Context, accountID, userID, deviceID int64, reason string) (store.Request, error)
	RequestGrouping(ctx context.Context, accountID, userID int64, deviceIDs []int64, note string) (store.Request, error)
	AccountRequests(ctx context.Context, accountID int64, limit int) ([]store.Request, error)
	Locations(ctx context.Context, accountID int64) ([]store.Location, error)
	AccountLocation(ctx context.Context, accountID, locationID int64) (store.Location, error)
	UpdateLocationContact(ctx context.Context, accountID, locationID int64, c store.LocationContact, by store.Actor) error

	// The users of the current account, delegates and their invitations,
	// the accounts a user may order for (users.go, invitation.go,
	// accounts.go).
	AccountUsers(ctx context.Context, accountID int64) ([]store.AccountUser, error)
	PendingInvitations(ctx context.Context, accountID int64) ([]store.Invitation, error)
	InviteDelegate(ctx context.Context, in store.DelegateInvite) (store.Invitation, string, error)
	CancelInvitation(ctx context.Context, accountID, primaryID, invitationID int64) error
	RemoveDelegate(ctx context.Context, accountID, primaryID, delegateID int64) error
	OpenInvitation(ctx context.Context, token string) (store.OpenInvitation, error)
	AcceptInvitation(ctx context.Context, token string) (store.AcceptedInvitation, error)
	WithdrawDelegation(ctx context.Context, accountID, delegateID int64) error
	AccountsUserMayOrderFor(ctx context.Context, userID int64) ([]store.OrderAccount, error)

	// Contact us (contact.go).
	SendContactMessage(ctx context.Context, m store.ContactMessage, backOfficeAddress string) (store.Request, error)

	// Meter reads typed in by the customer, automation requests (reads.go).
	MeterReadsToEnter(ctx context.Context, accountID int64, now time.Time) ([]store.MeterReadEntry, error)
	MeterReadToEnter(ctx context.Context, accountID, deviceID int64, now time.Time) (store.MeterReadEntry, error)
	SubmitManualRead(ctx context.Context, r store.ManualRead, now time.Time) (store.BillingRead, error)
	RequestReadAutomation(ctx context.Context, a store.ReadAutomation) (store.ReadAutomation, error)

	// The back office's views of all accounts, its review of devices and
	// the requests (backoffice.go).
	BackOfficeStore
}

// Options configure a Server.
type Options struct {
	Store Store
	// API is the back-office API's store; nil leaves /api/v1 out.
	API    APIStore
	Logger *slog.Logger
	// Version is the build shown in the footer.
	Version string
	// Now tells the time; nil means time.Now. Tests pin it.
	Now func() time.Time
	// Location is the time zone times are shown in; nil means time.Local.
	Location *time.Location
	// BaseURL is the portal's public address, e.g. https://portal.example.com:
	// the links of the e-mails it sends start with it (never with the
	// request's Host header, which the sender of a request chooses).
	BaseURL string
	// BackOfficeEmail is the address the contact-us messages are e-mailed
	// to; without one, the contact-us form says it is out of service.
	BackOfficeEmail string
	// SecureCookies marks the session cookie Secure even on a request that
	// arrived over plain HTTP (TLS ended at a proxy that does not say so).
	// Requests over HTTPS always get Secure cookies.
	SecureCookies bool
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// address the rate limits count; none means the connection's address.
	TrustedProxies []*net.IPNet
	// Passwords are argon2id's parameters; zero means auth.DefaultParams.
	Passwords auth.Params
	// Sessions say how long a session lasts; zero means
	// auth.DefaultSessionPolicy.
	Sessions auth.SessionPolicy
	// Limits are the rate limits of sign-in, password reset and
	// registration; zero means DefaultLimits.
	Limits Limits
	// Links say how long one-time links last; zero means DefaultLinkTTL.
	Links LinkTTL
	// Photos is where the photos sent with meter reads are kept (outside
	// anything served); nil refuses photos, saying the upload is out of
	// service.
	Photos *upload.Photos
	// PageConcurrency is how many page requests are served at once, the
	// others waiting in turn (admission.go); zero means twice GOMAXPROCS.
	PageConcurrency int
}

// Server is the portal's HTTP handler.
type Server struct {
	echo     *echo.Echo
	renderer *renderer
	store    Store
	api      APIStore
	logger   *slog.Logger
	now      func() time.Time
	loc      *time.Location
	baseURL  string
	secure   bool
	hasher   *auth.Hasher
	sessions auth.SessionPolicy
	limits   Limits
	links    LinkTTL
	// backOfficeEmail receives the contact-us messages.
	backOfficeEmail string
	// files are the static files, served under /static/.
	files fs.FS
	// photos keeps the meter-read photos; nil when none are taken.
	photos *upload.Photos
	// pageSlots are the page requests being served (admission.go).
	pageSlots chan struct{}
}

// New builds the web site. It parses every template, so a broken template
// fails here, at start-up, and not on the first request for its page.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: no store")
	}
	if opts.BackOfficeEmail != "" && validEmail(opts.BackOfficeEmail) == "" {
		return nil, fmt.Errorf("web: back-office address %q: want one e-mail address for the contact-us messages", opts.BackOfficeEmail)
	}
	base, err := url.Parse(strings.TrimSuffix(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("web: base URL %q: want http(s)://host[:port]", opts.BaseURL)
	}
	s := &Server{store: opts.Store, api: opts.API, logger: opts.Logger, now: opts.Now, loc: opts.Location,
		baseURL: base.String(), secure: opts.SecureCookies, sessions: opts.Sessions, limits: opts.Limits, links: opts.Links,
		backOfficeEmail: opts.BackOfficeEmail, photos: opts.Photos}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	if s.sessions == (auth.SessionPolicy{}) {
		s.sessions = auth.DefaultSessionPolicy
	}
	if s.limits == (Limits{}) {
		s.limits = DefaultLimits
	}
	if s.links == (LinkTTL{}) {
		s.links = DefaultLinkTTL
	}
	slots := opts.PageConcurrency
	if slots <= 0 {
		slots = defaultPageConcurrency()
	}
	s.pageSlots = make(chan struct{}, slots)
	if s.hasher, err = auth.NewHasher(opts.Passwords); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	r, err := newRenderer(assets, opts.Version)
	if err != nil {
		return nil, err
	}
	if s.files, err = fs.Sub(assets, "static"); err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s.renderer = r
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientAddress(opts.TrustedProxies)
	e.SchemeExtractor = clientScheme(opts.TrustedProxies)
	e.Use(s.logRequest, s.recoverPanic, securityHeaders, language, s.limitBody, s.csrf())
	s.echo = e
	s.mountPages(e)
	s.mountAPI(e)
	return s, nil
}

// clientScheme is how the scheme the client used is read: TLS on the
// connection, or X-Forwarded-Proto from a proxy on this box, the private
// network or the trusted proxies.
func clientScheme(proxies []*net.IPNet) echo.SchemeExtractor {
	var opts []echo.TrustOption
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractSchemeFromHeaders(opts...)
}

// clientAddress is how the client's address is read: from the connection,
// or from X-Forwarded-For as the trusted proxies pass it on, and from no
// other proxy (a client can write the header itself).
func clientAddress(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.echo.ServeHTTP(w, r)
}
