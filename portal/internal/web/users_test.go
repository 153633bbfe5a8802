package web

import (
	"context"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
)

// invite has the primary of a invite email as a delegate, as the page
// does, records the pending invitation in a.invitation and returns the
// token of its link.
func (e *env) invite(a *testAccount, email string) string {
	e.t.Helper()
	inv, token, err := e.st.InviteDelegate(context.Background(), store.DelegateInvite{AccountID: a.ID, InviterID: a.primary.ID, Email: email,
		TTL: 7 * 24 * time.Hour, BaseURL: testBaseURL})
	if err != nil {
		e.t.Fatal(err)
	}
	a.invitation = inv
	return token
}
