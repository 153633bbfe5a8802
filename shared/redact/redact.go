// Package redact hides the secrets that URLs carry, for logs, dumps and
// errors: the one place that knows where a URL keeps its password.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Placeholder stands for each secret hidden.
const Placeholder = "redacted"

// URL hides the password of a URL's user info and the password parameter
// some PostgreSQL URLs carry in the query. A URL that does not parse is
// hidden whole but its scheme: where its password is cannot be told.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if scheme, _, ok := strings.Cut(raw, "://"); ok && !strings.ContainsAny(scheme, "@:/") {
			return scheme + "://<not a valid URL, hidden>"
		}
		return "<not a valid URL, hidden>"
	}
	if u.Opaque != "" || (u.User == nil && !u.Query().Has("password")) {
		return raw
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Placeholder)
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", Placeholder)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// ParseError is the cause of a url.Parse error without the URL, which
// url.Error quotes whole, password included.
func ParseError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
