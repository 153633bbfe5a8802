package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/shared/domain"
)

// demoActor is who the demo data's changes are recorded as.
var demoActor = store.BySystem("demo")

// demoAccount is an account of the demo data, with its shipping
// locations, its contract and its users (the first the primary, the others
// delegates).
type demoAccount struct {
	store.Account
	Locations []store.LocationAddress
	Contract  string
	Users     []store.User
}

var demoAccounts = []demoAccount{
	{
		Account: store.Account{CustomerNumber: "DEMO-1001", Name: "Imprimerie Laurentienne", Language: domain.LanguageFrench},
		Locations: []store.LocationAddress{
			{Company: "Imprimerie Laurentienne", Street: "1250 rue Sainte-Catherine O.", City: "Montréal", Province: "QC", PostalCode: "H3G 1P1", Country: "CA"},
			{Company: "Imprimerie Laurentienne", Street: "500 boul. Charest E.", City: "Québec", Province: "QC", PostalCode: "G1K 3J4", Country: "CA"},
		},
		Contract: "DEMO-K-1001",
		Users: []store.User{
			{Email: "camille.gagnon@laurentienne.example", Name: "Camille Gagnon", Language: domain.LanguageFrench},
			{Email: "louis.tremblay@laurentienne.example", Name: "Louis Tremblay", Language: domain.LanguageFrench},
		},
	},
	{
		Account: store.Account{CustomerNumber: "DEMO-1002", Name: "Northwind Office Services", Language: domain.LanguageEnglish},
		Locations: []store.LocationAddress{
			{Company: "Northwind Office Services", Street: "100 King St W", City: "Toronto", Province: "ON", PostalCode: "M5X 1A9", Country: "CA"},
		},
		Contract: "DEMO-K-1002",
		Users: []store.User{
			{Email: "alex.morgan@northwind.example", Name: "Alex Morgan", Language: domain.LanguageEnglish},
			{Email: "sam.patel@northwind.example", Name: "Sam Patel", Language: domain.LanguageEnglish},
		},
	},
}

// demoSerials are the serials of the simulated demo fleet of count
// printers, as meterline-printersim -fleet demo -count serves them.
func demoSerials(count int) []string {
	devs := sim.Replicate(sim.DemoFleet(), count)
	serials := make([]string, len(devs))
	for i, d := range devs {
		serials[i] = d.Serial()
	}
	return serials
}

// loadDemo stores the demo data, looking each thing up first, so that a
// second run changes nothing. The demo fleet's printers go under the first
// account's contract, spread over its locations, all but the last (left
// for the agent to report as unconfirmed); the first printer is also
// registered under the second account, a serial conflict. The agent
// agentID is registered to the first account.
func loadDemo(ctx context.Context, st *store.Store, count int, agentID string, out io.Writer) error {
	serials := demoSerials(count)
	if len(serials) < 2 {
		return fmt.Errorf("admin demo: a demo fleet of %d printers is too small", count)
	}
	var accs []loadedAccount
	for _, da := range demoAccounts {
		l, err := loadDemoAccount(ctx, st, da)
		if err != nil {
			return err
		}
		accs = append(accs, l)
	}
	put := func(a loadedAccount, serial string, i int, conflict bool) (bool, error) {
		if _, err := st.AccountDeviceBySerial(ctx, a.account.ID, serial); err == nil {
			return false, nil
		} else if domain.ErrorCode(err) != domain.ENOTFOUND {
			return false, err
		}
		d := store.ContractedDevice{Serial: serial, ContractID: a.contract.ID, LocationID: &a.locations[i%len(a.locations)]}
		var err error
		if conflict {
			_, err = st.PutConflictingDeviceUnderContract(ctx, d, demoActor)
		} else {
			_, err = st.PutDeviceUnderContract(ctx, d, demoActor)
		}
		return err == nil, err
	}
	created := 0
	for i, serial := range serials[:len(serials)-1] {
		ok, err := put(accs[0], serial, i, false)
		if err != nil {
			return err
		}
		if ok {
			created++
		}
	}
	ok, err := put(accs[1], serials[0], 0, true)
	if err != nil {
		return err
	}
	if ok {
		created++
	}
	if err := st.AssignAgent(ctx, agentID, accs[0].account.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo: %d account(s), %d device(s) created; agent %s belongs to %s; serial %s left unconfirmed, %s also under %s\n",
		len(accs), created, agentID, accs[0].account.CustomerNumber, serials[len(serials)-1], serials[0], accs[1].account.CustomerNumber)
	return demoSignIns(ctx, st, accs, out)
}

// demoBackOffice is the demo's back-office user. A role needs an account:
// it holds the back-office role on the first demo account.
var demoBackOffice = store.User{Email: "backoffice@meterline.example", Name: "Back office", Language: domain.LanguageFrench}

// demoSignIns gives the primary user of each demo account and the demo's
// back-office user one new random password, and prints it: the demo's
// users can sign in, and no password is written in the source.
func demoSignIns(ctx context.Context, st *store.Store, accs []loadedAccount, out io.Writer) error {
	bo, err := st.UserByEmail(ctx, demoBackOffice.Email)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		bo, err = st.CreateUser(ctx, demoBackOffice)
	}
	if err != nil {
		return err
	}
	members, err := st.Memberships(ctx, accs[0].account.ID)
	if err != nil {
		return err
	}
	if !hasMember(members, bo.ID) {
		if _, err := st.AddMembership(ctx, store.Membership{UserID: bo.ID, AccountID: accs[0].account.ID, Role: domain.RoleBackOffice}, demoActor); err != nil {
			return err
		}
	}
	token, _, err := auth.NewToken()
	if err != nil {
		return err
	}
	password := "demo-" + token[:16] // the dash: a non-letter, as the rules want
	hasher, err := auth.NewHasher(auth.DefaultParams)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return err
	}
	var who []string
	for i, da := range demoAccounts {
		u, err := st.UserByEmail(ctx, da.Users[0].Email)
		if err != nil {
			return err
		}
		if err := st.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		who = append(who, fmt.Sprintf("%s (primary of %s)", u.Email, accs[i].account.CustomerNumber))
	}
	if err := st.SetPasswordHash(ctx, bo.ID, hash); err != nil {
		return err
	}
	who = append(who, bo.Email+" (back office)")
	fmt.Fprintf(out, "demo: sign in as %s with password %s\n", strings.Join(who, ", "), password)
	return nil
}

type loadedAccount struct {
	account   store.Account
	locations []int64
	contract  store.Contract
}

// loadDemoAccount finds or creates an account of the demo data and what
// it holds but its devices.
func loadDemoAccount(ctx context.Context, st *store.Store, da demoAccount) (loadedAccount, error) {
	var l loadedAccount
	acc, err := st.AccountByNumber(ctx, da.CustomerNumber)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		acc, err = st.CreateAccount(ctx, da.Account)
	}
	if err != nil {
		return l, err
	}
	l.account = acc
	have, err := st.Locations(ctx, acc.ID)
	if err != nil {
		return l, err
	}
	for _, addr := range da.Locations {
		id := int64(0)
		for _, h := range have {
			if h.LocationAddress == addr {
				id = h.ID
				break
			}
		}
		if id == 0 {
			loc, err := st.CreateLocation(ctx, store.Location{AccountID: acc.ID, LocationAddress: addr})
			if err != nil {
				return l, err
			}
			id = loc.ID
		}
		l.locations = append(l.locations, id)
	}
	contracts, err := st.Contracts(ctx, acc.ID)
	if err != nil {
		return l, err
	}
	for _, c := range contracts {
		if c.Number == da.Contract {
			l.contract = c
		}
	}
	if l.contract.ID == 0 {
		l.contract, err = st.CreateContract(ctx, store.Contract{Number: da.Contract, AccountID: acc.ID,
			BillingPeriod: domain.BillingQuarterly, BillsBlack: true, BillsColour: true,
			Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ExpectedMonthlyVolume: 5000})
		if err != nil {
			return l, err
		}
	}
	members, err := st.Memberships(ctx, acc.ID)
	if err != nil {
		return l, err
	}
	for i, du := range da.Users {
		u, err := st.UserByEmail(ctx, du.Email)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			u, err = st.CreateUser(ctx, du)
		}
		if err != nil {
			return l, err
		}
		role := domain.RoleDelegate
		if i == 0 {
			role = domain.RolePrimary
		}
		if !hasMember(members, u.ID) {
			if _, err := st.AddMembership(ctx, store.Membership{UserID: u.ID, AccountID: acc.ID, Role: role}, demoActor); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

func hasMember(ms []store.Membership, userID int64) bool {
	for _, m := range ms {
		if m.UserID == userID {
			return true
		}
	}
	return false
}

var errDemoUsage = errors.New("admin demo: no arguments but -count and -agent")
