package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
)

// TestAPIAccountAndLocationUpdates: PATCH changes the fields given and
// keeps the others; the customer number, the supplier's key, stays.
func TestAPIAccountAndLocationUpdates(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			w, r := env.write, env.read
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"ABC Co","language":"fr"}`, 201, nil)
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C2","name":"Other Co","language":"en"}`, 201, nil)
			var acc apiAccount
			env.json(t, w, "PATCH", "/api/v1/accounts/C1", `{"name":"ABC Company"}`, 200, &acc)
			if acc.Name != "ABC Company" || acc.Language != "fr" || acc.CustomerNumber != "C1" {
				t.Errorf("after PATCH name: %+v", acc)
			}
			env.json(t, w, "PATCH", "/api/v1/accounts/C1", `{"language":"en","customer_number":"C1"}`, 200, &acc)
			env.json(t, r, "GET", "/api/v1/accounts/C1", "", 200, &acc)
			if acc.Name != "ABC Company" || acc.Language != "en" {
				t.Errorf("after PATCH language: %+v", acc)
			}
			env.json(t, w, "PATCH", "/api/v1/accounts/C1", `{"language":"de"}`, 400, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/C1", `{"name":" "}`, 400, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/C1", `{"customer_number":"C9"}`, 400, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/NOPE", `{"name":"X"}`, 404, nil)

			var hq, wh apiLocation
			env.json(t, w, "POST", "/api/v1/accounts/C1/locations", `{"code":"HQ","attention":"Jean","company":"ABC Co","street":"1 rue Principale","city":"Montréal","country":"CA"}`, 201, &hq)
			env.json(t, w, "POST", "/api/v1/accounts/C1/locations", `{"code":"WH","city":"Québec"}`, 201, &wh)
			if hq.Code != "HQ" || wh.Code != "WH" {
				t.Errorf("created locations %+v, %+v", hq, wh)
			}
			env.json(t, w, "POST", "/api/v1/accounts/C1/locations", `{"code":"HQ"}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C2/locations", `{"code":"HQ"}`, 201, nil)
			var got apiLocation
			env.json(t, w, "PATCH", "/api/v1/accounts/C1/locations/"+itoa(hq.ID), `{"attention":"Marie","suite":"210","street":"2 rue Sainte-Catherine"}`, 200, &got)
			if got.Attention != "Marie" || got.Suite != "210" || got.Street != "2 rue Sainte-Catherine" || got.City != "Montréal" || got.Company != "ABC Co" || got.Code != "HQ" {
				t.Errorf("after PATCH: %+v", got)
			}
			env.json(t, w, "PATCH", "/api/v1/accounts/C1/locations/"+itoa(wh.ID), `{"code":"HQ"}`, 409, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/C2/locations/"+itoa(hq.ID), `{"attention":"X"}`, 404, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/C1/locations/999999", `{"attention":"X"}`, 404, nil)
			env.json(t, w, "PATCH", "/api/v1/accounts/C1/locations/abc", `{"attention":"X"}`, 400, nil)
			var locs []apiLocation
			env.json(t, r, "GET", "/api/v1/accounts/C1/locations", "", 200, &locs)
			if len(locs) != 2 || locs[0] != got {
				t.Errorf("locations = %+v, want %+v first", locs, got)
			}
		})
	}
}

// TestAPIUsers: a user is created without a password (and no e-mail is
// queued) with a role on an account, under the rules of roles.
func TestAPIUsers(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			w, r := env.write, env.read
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"ABC Co","language":"fr"}`, 201, nil)
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C2","name":"Other Co","language":"en"}`, 201, nil)
			var jean apiMember
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":" Jean@ABC.example ","name":"Jean Picard","role":"primary"}`, 201, &jean)
			if jean.Email != "jean@abc.example" || jean.Language != "fr" || jean.Role != "primary" || jean.PasswordSet || jean.ID == 0 {
				t.Errorf("created %+v", jean)
			}
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"JEAN@abc.example","role":"delegate"}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"boss@abc.example","role":"primary"}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"a@abc.example","role":"delegate","language":"en"}`, 201, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"b@abc.example","role":"delegate"}`, 201, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"c@abc.example","role":"delegate"}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"c@abc.example","role":"owner"}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/users", `{"email":"not-an-address","role":"delegate"}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/accounts/NOPE/users", `{"email":"c@abc.example","role":"delegate"}`, 404, nil)
			var other apiMember
			env.json(t, w, "POST", "/api/v1/accounts/C2/users", `{"email":"jean@abc.example","name":"Ignored","role":"delegate"}`, 201, &other)
			if other.ID != jean.ID || other.Name != "Jean Picard" || other.Language != "fr" {
				t.Errorf("an existing user on another account: %+v, want jean as stored", other)
			}
			var ms []apiMember
			env.json(t, r, "GET", "/api/v1/accounts/C1/users", "", 200, &ms)
			if len(ms) != 3 || ms[0].Email != "a@abc.example" || ms[0].Language != "en" || ms[2].Email != "jean@abc.example" || ms[2].Role != "primary" {
				t.Errorf("members of C1 = %+v", ms)
			}
			env.json(t, r, "GET", "/api/v1/accounts/NOPE/users", "", 404, nil)
			var queued int
			if err := env.st.DB().QueryRow(`SELECT count(*) FROM email_outbox`).Scan(&queued); err != nil || queued != 0 {
				t.Errorf("e-mails queued: %d, %v; want none", queued, err)
			}
		})
	}
}

// TestAPIAgents: an agent is registered and moved by a deliberate call;
// the import refuses to move it.
func TestAPIAgents(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			w, r := env.write, env.read
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"ABC Co","language":"fr"}`, 201, nil)
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C2","name":"Other Co","language":"en"}`, 201, nil)
			var g apiAgent
			env.json(t, w, "PUT", "/api/v1/agents/agent-1/account", `{"customer_number":"C1"}`, 200, &g)
			if g.ID != "agent-1" || g.CustomerNumber == nil || *g.CustomerNumber != "C1" {
				t.Errorf("assigned %+v", g)
			}
			env.json(t, w, "PUT", "/api/v1/agents/agent-2/account", `{"customer_number":"C1"}`, 200, nil)
			var gs []apiAgent
			env.json(t, r, "GET", "/api/v1/agents", "", 200, &gs)
			if len(gs) != 2 || gs[0].ID != "agent-1" {
				t.Errorf("agents = %+v", gs)
			}
			env.json(t, r, "GET", "/api/v1/agents?account=C2", "", 200, &gs)
			if len(gs) != 0 {
				t.Errorf("agents of C2 = %+v, want none", gs)
			}
			rec := env.call(t, w, "POST", "/api/v1/import/agents", "text/csv", "agent_id,customer_number\nagent-3,C2\nagent-1,C2\n")
			var body apiErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 || len(body.Error.Errors) != 1 ||
				body.Error.Errors[0] != (store.ImportError{Line: 3, Field: "agent_id", Message: "agent agent-1 belongs to account C1"}) {
				t.Errorf("import moving an agent: %d %s", rec.Code, rec.Body)
			}
			env.json(t, w, "PUT", "/api/v1/agents/agent-1/account", `{"customer_number":"C2"}`, 200, &g)
			if *g.CustomerNumber != "C2" {
				t.Errorf("moved %+v", g)
			}
			env.json(t, r, "GET", "/api/v1/agents?account=C2", "", 200, &gs)
			if len(gs) != 1 || gs[0].ID != "agent-1" {
				t.Errorf("agents of C2 after the move = %+v", gs)
			}
			// The move is recorded on both accounts, by the token.
			for number, want := range map[string][2]any{"C1": {"agent-1", nil}, "C2": {nil, "agent-1"}} {
				a, err := env.st.AccountByNumber(context.Background(), number)
				if err != nil {
					t.Fatal(err)
				}
				changes, err := env.st.StateChanges(context.Background(), store.EntityAccount, a.ID)
				if err != nil || len(changes) == 0 {
					t.Fatalf("changes of %s: %+v, %v", number, changes, err)
				}
				last := changes[len(changes)-1]
				if last.Field != store.FieldAgent || !sameValue(last.Old, want[0]) || !sameValue(last.New, want[1]) || last.BySystem == nil || *last.BySystem != "api:writer" {
					t.Errorf("last change of %s = %+v, want agent %v → %v by api:writer", number, last, want[0], want[1])
				}
			}
			env.json(t, r, "GET", "/api/v1/agents?account=NOPE", "", 404, nil)
			env.json(t, w, "PUT", "/api/v1/agents/agent-1/account", `{"customer_number":"NOPE"}`, 404, nil)
			env.json(t, w, "PUT", "/api/v1/agents/agent-1/account", `nope`, 400, nil)
		})
	}
}

// TestAPIImportEveryKind: POST /import/:kind for each kind of the table,
// GET /import lists them, another kind is 404 naming them.
func TestAPIImportEveryKind(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			w, r := env.write, env.read
			var kinds []apiImportKind
			env.json(t, r, "GET", "/api/v1/import", "", 200, &kinds)
			if len(kinds) != 6 || kinds[0].Kind != "accounts" || kinds[0].Columns[0] != (apiImportColumn{Name: "customer_number", Required: true, Doc: "the supplier's key of the account"}) {
				t.Errorf("kinds = %+v", kinds)
			}
			files := []struct{ kind, file string }{
				{"accounts", "customer_number,name,language\nC1,ABC Co,fr\nC2,Other Co,en\n"},
				{"locations", "customer_number,code,city\nC1,HQ,Montréal\n"},
				{"contracts", "number,customer_number,billing_period,bills,start\nK1,C1,quarterly,black;colour,2026-01-01\n"},
				{"devices", "serial,customer_number,contract_number,location_code\nSN-1,C1,K1,HQ\n"},
				{"users", "email,customer_number,role\njean@abc.example,C1,primary\n"},
				{"agents", "agent_id,customer_number\nagent-1,C1\n"},
			}
			for _, f := range files {
				for _, want := range []string{`"created":`, `"created":0,"updated":0,"unchanged":`} {
					rec := env.call(t, w, "POST", "/api/v1/import/"+f.kind, "text/csv", f.file)
					if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) || strings.Contains(rec.Body.String(), `"created":0,"updated":0,"unchanged":0`) {
						t.Errorf("import %s: %d %s, want %s", f.kind, rec.Code, rec.Body, want)
					}
				}
			}
			// A bad line in the middle of a users file: nothing stored,
			// the line and field named.
			rec := env.call(t, w, "POST", "/api/v1/import/users", "text/csv",
				"email,customer_number,role\na@abc.example,C1,delegate\nb@abc.example,C1,boss\nc@abc.example,C1,delegate\n")
			var body apiErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 || len(body.Error.Errors) != 1 ||
				body.Error.Errors[0] != (store.ImportError{Line: 3, Field: "role", Message: `"boss" is not primary, delegate or back_office`}) {
				t.Errorf("bad users file: %d %s", rec.Code, rec.Body)
			}
			var ms []apiMember
			env.json(t, r, "GET", "/api/v1/accounts/C1/users", "", 200, &ms)
			if len(ms) != 1 {
				t.Errorf("members after a bad file = %+v, want jean alone", ms)
			}
			rec = env.call(t, w, "POST", "/api/v1/import/printers", "text/csv", "x\n")
			if rec.Code != 404 || errorCode(t, rec) != "not_found" || !strings.Contains(rec.Body.String(), "accounts, locations, contracts, devices, users, agents") {
				t.Errorf("unknown kind: %d %s", rec.Code, rec.Body)
			}
			c1, err := env.st.AccountByNumber(context.Background(), "C1")
			if err != nil {
				t.Fatal(err)
			}
			if ds, err := env.st.AccountDevices(context.Background(), c1.ID); err != nil || len(ds) != 1 || ds[0].LocationID == nil {
				t.Errorf("imported devices = %+v, %v", ds, err)
			}
		})
	}
}

// sameValue reports whether a recorded value is want (a string, or nil
// for none).
func sameValue(got *string, want any) bool {
	if want == nil {
		return got == nil
	}
	return got != nil && *got == want
}
