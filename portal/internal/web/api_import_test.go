package web

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
)

// importFixture creates account C1 with a location and contract K1 through
// the API, and returns the location's id.
func importFixture(t *testing.T, env apiEnv) int64 {
	t.Helper()
	env.json(t, env.write, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"ABC Co","language":"en"}`, 201, nil)
	env.json(t, env.write, "POST", "/api/v1/accounts", `{"customer_number":"C2","name":"Other Co","language":"fr"}`, 201, nil)
	var loc apiLocation
	env.json(t, env.write, "POST", "/api/v1/accounts/C1/locations", `{"company":"ABC Co"}`, 201, &loc)
	env.json(t, env.write, "POST", "/api/v1/accounts/C1/contracts", `{"number":"K1","billing_period":"monthly","bills_total":true,"start":"2026-01-01"}`, 201, nil)
	return loc.ID
}

func TestAPIImportDevices(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			ctx := context.Background()
			locID := itoa(importFixture(t, env))
			acc, err := env.st.AccountByNumber(ctx, "C1")
			if err != nil {
				t.Fatal(err)
			}

			// Line 3 names a contract of another account, line 4 a bad
			// replenishment state: nothing is stored, both are named.
			bad := "serial,model,product_code,customer_number,contract_number,location_id,replenishment\n" +
				"SN-1,IM C3000,MX1,C1,K1," + locID + ",\n" +
				"SN-2,IM C3000,MX1,C1,K9,,\n" +
				"SN-3,IM C3000,MX1,C1,K1,,sometimes\n" +
				"SN-4,IM C3000,MX1,C1,K1,,eligible\n"
			rec := env.call(t, env.write, "POST", "/api/v1/import/devices", "text/csv", bad)
			if rec.Code != 400 {
				t.Fatalf("bad file: %d %s, want 400", rec.Code, rec.Body)
			}
			var body apiErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			want := []store.ImportError{
				{Line: 3, Field: "contract_number", Message: "account C1 has no contract K9"},
				{Line: 4, Field: "replenishment", Message: `"sometimes" is not eligible, active or ineligible`},
			}
			if len(body.Error.Errors) != 2 || body.Error.Errors[0] != want[0] || body.Error.Errors[1] != want[1] {
				t.Errorf("bad file: errors %+v, want %+v", body.Error.Errors, want)
			}
			bad = strings.Replace(bad, "sometimes", "ineligible", 1)
			if ds, err := env.st.AccountDevices(ctx, acc.ID); err != nil || len(ds) != 0 {
				t.Fatalf("after a bad file: devices %+v, %v; want none", ds, err)
			}

			good := strings.Replace(bad, "K9", "K1", 1)
			imp := func(file string) (store.ImportResult, int) {
				t.Helper()
				rec := env.call(t, env.write, "POST", "/api/v1/import/devices", "text/csv", file)
				if rec.Code != 200 {
					t.Fatalf("import: %d %s", rec.Code, rec.Body)
				}
				var res store.ImportResult
				if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
					t.Fatal(err)
				}
				ds, err := env.st.AccountDevices(ctx, acc.ID)
				if err != nil {
					t.Fatal(err)
				}
				changes := 0
				for _, d := range ds {
					cs, err := env.st.StateChanges(ctx, store.EntityDevice, d.ID)
					if err != nil {
						t.Fatal(err)
					}
					changes += len(cs)
				}
				return res, changes
			}
			res, changes := imp(good)
			if res != (store.ImportResult{Created: 4}) || changes != 8 {
				t.Errorf("first import: %+v, %d state changes; want 4 created, 8 changes", res, changes)
			}
			res, again := imp(good)
			if res != (store.ImportResult{Unchanged: 4}) || again != changes {
				t.Errorf("same file again: %+v, %d state changes; want 4 unchanged, %d changes", res, again, changes)
			}
			// The same file as a multipart upload (field "file").
			var mp bytes.Buffer
			mw := multipart.NewWriter(&mp)
			fw, err := mw.CreateFormFile("file", "devices.csv")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = fw.Write([]byte(good))
			_ = mw.Close()
			rec = env.call(t, env.write, "POST", "/api/v1/import/devices", mw.FormDataContentType(), mp.String())
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"unchanged":4`) {
				t.Errorf("multipart upload: %d %s", rec.Code, rec.Body)
			}
			ds, _ := env.st.AccountDevices(ctx, acc.ID)
			if len(ds) != 4 || ds[0].Serial != "SN-1" || ds[0].LocationID == nil || ds[2].Replenishment != "ineligible" {
				t.Errorf("devices = %+v", ds)
			}
			// The same serial under another account's file line is a
			// conflict named on its line; a missing required column on line 1.
			rec = env.call(t, env.write, "POST", "/api/v1/import/devices", "text/csv",
				"serial,customer_number\nSN-9,C1\n")
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 ||
				len(body.Error.Errors) != 1 || body.Error.Errors[0] != (store.ImportError{Line: 1, Field: "contract_number", Message: "required column missing"}) {
				t.Errorf("missing column: %d %s", rec.Code, rec.Body)
			}
			rec = env.call(t, env.write, "POST", "/api/v1/import/devices", "text/csv",
				"serial,customer_number,contract_number\nSN-8,C1,K1\nsn-8 ,C1,K1\n")
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 ||
				len(body.Error.Errors) != 1 || body.Error.Errors[0].Line != 3 || body.Error.Errors[0].Field != "serial" {
				t.Errorf("duplicate serial: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
