package web

import (
	"context"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// TestAPIReview: an agent's devices, registered to C1, wait unconfirmed;
// C2 has one of their serials too (a conflict). The back office lists
// them, confirms one under C1's contract and rejects the other.
func TestAPIReview(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			env := newAPIEnv(t, url)
			at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
			read := []storetest.Read{{At: at, Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 42}}}}
			storetest.Seed(t, url, storetest.Device{Serial: "S1", Agent: "u1", Reads: read}, storetest.Device{Serial: "S2", Agent: "u1", Reads: read})
			w, r := env.write, env.read
			var k1, k2 apiContract
			for _, a := range []struct {
				number string
				k      *apiContract
			}{{"C1", &k1}, {"C2", &k2}} {
				env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"`+a.number+`","name":"Co","language":"fr"}`, 201, nil)
				env.json(t, w, "POST", "/api/v1/accounts/"+a.number+"/contracts", `{"number":"K`+a.number+`","billing_period":"quarterly","bills_black":true,"start":"2026-01-01"}`, 201, a.k)
			}
			ctx := context.Background()
			if err := env.st.RegisterAgent(ctx, "u1", k1.AccountID, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			if _, err := env.st.PutConflictingDeviceUnderContract(ctx, store.ContractedDevice{Serial: "S2", ContractID: k2.ID}, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}

			var list []apiUnconfirmedDevice
			env.json(t, r, "GET", "/api/v1/devices/unconfirmed", "", 200, &list)
			if len(list) != 2 || list[0].CustomerNumber != "C1" || list[0].LastReadAt == nil || !list[0].LastReadAt.Equal(at) {
				t.Fatalf("unconfirmed = %+v", list)
			}
			ids := map[string]int64{}
			for _, d := range list {
				ids[d.Serial] = d.ID
				if d.Conflict != (d.Serial == "S2") {
					t.Errorf("%s conflict = %v", d.Serial, d.Conflict)
				}
			}
			env.json(t, r, "GET", "/api/v1/devices/unconfirmed?account=C2", "", 200, &list)
			if len(list) != 0 {
				t.Errorf("C2's unconfirmed = %+v, want none", list)
			}
			env.json(t, r, "GET", "/api/v1/devices/unconfirmed?account=NOPE", "", 404, nil)
			var conflicts []apiSerialConflict
			env.json(t, r, "GET", "/api/v1/devices/conflicts", "", 200, &conflicts)
			if len(conflicts) != 2 || conflicts[0].DeviceID != ids["S2"] || conflicts[0].State != "unconfirmed" || conflicts[1].CustomerNumber != "C2" || conflicts[1].State != "active" {
				t.Errorf("conflicts = %+v", conflicts)
			}

			var d apiDevice
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S1"])+"/confirm", `{"contract_id":`+itoa(k2.ID)+`}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S1"])+"/confirm", `{"product_code":"MX1"}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S1"])+"/confirm", `{"contract_id":`+itoa(k1.ID)+`,"product_code":"MX1"}`, 200, &d)
			if d.ID != ids["S1"] || d.State != "active" || d.ProductCode != "MX1" || d.ContractID != k1.ID || d.Serial != "S1" {
				t.Errorf("confirmed = %+v", d)
			}
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S1"])+"/confirm", `{"contract_id":`+itoa(k1.ID)+`}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/devices/abc/confirm", `{}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/devices/999999/confirm", `{"contract_id":`+itoa(k1.ID)+`}`, 404, nil)

			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S2"])+"/reject", "", 204, nil)
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S2"])+"/reject", "", 204, nil)
			env.json(t, w, "POST", "/api/v1/devices/"+itoa(ids["S1"])+"/reject", "", 409, nil)
			env.json(t, w, "POST", "/api/v1/devices/999999/reject", "", 404, nil)
			env.json(t, r, "GET", "/api/v1/devices/conflicts", "", 200, &conflicts)
			env.json(t, r, "GET", "/api/v1/devices/unconfirmed", "", 200, &list)
			if len(conflicts) != 0 || len(list) != 0 {
				t.Errorf("after the review: conflicts %+v, unconfirmed %+v; want none", conflicts, list)
			}
			changes, err := env.st.StateChanges(ctx, store.EntityDevice, ids["S2"])
			if err != nil || len(changes) == 0 || *changes[len(changes)-1].New != "rejected" || *changes[len(changes)-1].BySystem != "api:writer" {
				t.Errorf("S2 changes = %+v, %v; want the rejection by api:writer last", changes, err)
			}
		})
	}
}
