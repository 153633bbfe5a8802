package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// access is who may use a page. It is decided in one place, authorize,
// from the route table; a handler never checks it again. The zero value
// is no access level at all, which the route table's test refuses.
type access int

const (
	// anyone: a public page. The visitor is still read, so a signed-in
	// user sees the page in their language with their menu.
	anyone access = iota + 1
	// asset: a static file or a probe; no session is read.
	asset
	// signedIn: any signed-in user, whatever their accounts.
	signedIn
	// member: the primary or a delegate of the current account.
	member
	// primaryOnly: the primary of the current account.
	primaryOnly
	// backOffice: a user with the back-office role.
	backOffice
)

// String names a level in test failures.
func (a access) String() string {
	switch a {
	case anyone:
		return "anyone"
	case asset:
		return "asset"
	case signedIn:
		return "signedIn"
	case member:
		return "member"
	case primaryOnly:
		return "primaryOnly"
	case backOffice:
		return "backOffice"
	}
	return "none"
}

// pageRoute is one route of the site and who may use it.
type pageRoute struct {
	method, path string
	access       access
	handle       echo.HandlerFunc
}

// pageRoutes is the site's whole route table (the API has its own,
// apiRoutes): every route names its access level, and authorize is the one
// place that enforces it. Each handler lives in a file named after its
// page. A route added to echo any other way fails TestEveryRouteIsInATable.
//
// Inside an account, a path parameter names an object of the current
// account (:location, :device…): the handler fetches it with a store
// method that takes the current account's id, so another account's id is
// 404. README.md says how to add a route and its test.
func (s *Server) pageRoutes() []pageRoute {
	get, post := http.MethodGet, http.MethodPost
	routes := []pageRoute{
		{get, "/", anyone, s.home},
		{get, "/healthz", asset, s.health},
		{http.MethodHead, "/healthz", asset, s.health},
		{get, "/static/*", asset, s.static},

		// Signing in and out, passwords (signin.go, password.go).
		{get, "/login", anyone, s.loginForm},
		{post, "/login", anyone, s.login},
		{post, "/logout", anyone, s.logout},
		{get, "/password/forgot", anyone, s.forgotForm},
		{post, "/password/forgot", anyone, s.forgot},
		{get, "/password/reset", anyone, s.resetForm},
		{post, "/password/reset", anyone, s.reset},

		// Registration (register.go).
		{get, "/register", anyone, s.registerPage},
		{post, "/register", anyone, s.register},
		{get, "/register/confirm", anyone, s.registerConfirmForm},
		{post, "/register/confirm", anyone, s.registerConfirm},
		{get, "/terms", anyone, s.terms},

		// The user's own profile, language and e-mail (profile.go).
		{get, "/profile", signedIn, s.profileForm},
		{post, "/profile", signedIn, s.profile},
		{post, "/profile/password", signedIn, s.changePassword},
		{post, "/profile/email", signedIn, s.changeEmail},
		{get, "/email/confirm", anyone, s.confirmEmailForm},
		{post, "/email/confirm", anyone, s.confirmEmail},
		{post, "/language", signedIn, s.setLanguage},

		// The dashboard and the accounts the user may act for (dashboard.go).
		{get, "/dashboard", signedIn, s.dashboard},
		{post, "/accounts/:account/current", signedIn, s.switchAccount},

		// My equipment: the list, adding a device, asking to remove or
		// group devices (equipment.go).
		{get, "/equipment", member, s.equipment},
		{post, "/equipment/add", member, s.addDevice},
		{post, "/equipment/link", member, s.linkSerial},
		{post, "/equipment/group", member, s.groupDevices},
		{get, "/equipment/:device/remove", member, s.removalForm},
		{post, "/equipment/:device/remove", member, s.requestRemoval},

		// Shipping details: the account's locations (shipping.go).
		{get, "/shipping", member, s.shipping},
		{post, "/shipping/:location", member, s.saveShipping},

		// Manage users: the account's delegates and invitations (users.go),
		// the invitation link (invitation.go).
		{get, "/users", member, s.users},
		{post, "/users/invite", primaryOnly, s.invite},
		{post, "/users/invitations/:invitation/cancel", primaryOnly, s.cancelInvitation},
		{get, "/users/:user/remove", primaryOnly, s.removeDelegateForm},
		{post, "/users/:user/remove", primaryOnly, s.removeDelegate},
		{get, store.InvitationAcceptPath, anyone, s.invitationForm},
		{post, store.InvitationAcceptPath, anyone, s.acceptInvitation},

		// The accounts the user may order for, withdrawing from one
		// (accounts.go).
		{get, "/accounts", signedIn, s.accounts},
		{get, "/accounts/:account/withdraw", signedIn, s.withdrawForm},
		{post, "/accounts/:account/withdraw", signedIn, s.withdraw},

		// Meter reads: the devices whose read is awaited, a device's entry
		// form (multipart, with the photo of its counters), the request to
		// automate the reads (reads.go).
		{get, "/reads", member, s.reads},
		{get, "/reads/automate", member, s.automateForm},
		{post, "/reads/automate", member, s.automate},
		{get, "/reads/:device", member, s.readForm},
		{post, "/reads/:device", member, s.submitRead},

		// Contact us (contact.go).
		{get, "/contact", member, s.contactForm},
		{post, "/contact", member, s.contact},
		{get, "/contact/sent", member, s.contactSent},

		// The back office: accounts, devices to review, requests
		// (backoffice*.go).
		{get, "/backoffice", backOffice, s.backOfficeHome},
		{get, "/backoffice/accounts", backOffice, s.backOfficeAccounts},
		{get, "/backoffice/accounts/:account", backOffice, s.backOfficeAccount},
		{get, "/backoffice/devices", backOffice, s.allDevices},
		{get, "/backoffice/devices/unconfirmed", backOffice, s.unconfirmedDevices},
		{get, "/backoffice/devices/conflicts", backOffice, s.serialConflicts},
		{get, "/backoffice/devices/:device", backOffice, s.unconfirmedDevice},
		{post, "/backoffice/devices/:device/confirm", backOffice, s.confirmDevice},
		{post, "/backoffice/devices/:device/reject", backOffice, s.rejectDevice},
		{get, "/backoffice/requests", backOffice, s.backOfficeRequests},
		{get, "/backoffice/requests/:request", backOffice, s.backOfficeRequest},
		{post, "/backoffice/requests/:request/resolve", backOffice, s.resolveRequest},
		{get, "/backoffice/reads", backOffice, s.backOfficeReads},
		{get, "/backoffice/reads/:read/photo", backOffice, s.backOfficeReadPhoto},
	}
	// The dashboard's tiles whose pages come later: each says so.
	for _, t := range tiles {
		if t.coming {
			routes = append(routes, pageRoute{get, t.path, member, s.coming(t.key)})
		}
	}
	return routes
}

// mountPages registers the page routes, each behind authorize, and all
// but static files and probes behind the admission queue (admission.go).
func (s *Server) mountPages(e *echo.Echo) {
	queue := admit(s.pageSlots)
	for _, r := range s.pageRoutes() {
		if r.access == asset {
			e.Add(r.method, r.path, r.handle, s.authorize(r.access))
			continue
		}
		e.Add(r.method, r.path, r.handle, queue, s.authorize(r.access))
	}
}
