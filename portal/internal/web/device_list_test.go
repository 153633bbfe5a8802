package web

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/golden"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

// sampleDevices returns storetest.Sample as the store reads it back from a
// SQLite database, so the golden pages cover the whole path from the table.
func sampleDevices(t *testing.T) []store.DeviceSummary {
	t.Helper()
	url := schematest.SQLiteURL(t)
	storetest.Seed(t, url, storetest.Sample(testNow)...)
	st, err := store.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	devices, err := st.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return devices
}

// TestDeviceListGolden renders the sample fleet in both languages and
// compares the page with testdata/device_list.LANG.html; run the tests
// with -update to accept a change.
func TestDeviceListGolden(t *testing.T) {
	s := newTestServer(t, &fakeStore{devices: sampleDevices(t)})
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			rec := request(t, s, http.MethodGet, "/backoffice/devices?lang="+lang)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/html; charset=UTF-8" {
				t.Errorf("Content-Type = %q", got)
			}
			golden.Bytes(t, filepath.Join("testdata", "device_list."+lang+".html"), rec.Body.Bytes())
		})
	}
}

func TestEmptyStateGolden(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			rec := request(t, s, http.MethodGet, "/backoffice/devices?lang="+lang)
			golden.Bytes(t, filepath.Join("testdata", "device_list_empty."+lang+".html"), rec.Body.Bytes())
		})
	}
}

func p64(v int64) *int64 { return &v }
func pint(v int) *int    { return &v }

// row returns the table row of the device with the given ID.
func row(t *testing.T, page string, id int64) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<tr id="device-` + strconv.FormatInt(id, 10) + `">.*?</tr>`)
	r := re.FindString(page)
	if r == "" {
		t.Fatalf("no row for device %d in:\n%s", id, page)
	}
	return r
}

// level returns the toner level block whose label is label.
func level(t *testing.T, r, label string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<div class="level[^"]*"[^>]*>\s*<span class="level-name">` + regexp.QuoteMeta(label) + `</span>.*?</div>`)
	l := re.FindString(r)
	if l == "" {
		t.Fatalf("no %s level in row:\n%s", label, r)
	}
	return l
}

func TestDeviceListCells(t *testing.T) {
	read := func(supplies []wire.Supply, status *wire.Status) *store.Read {
		return &store.Read{At: testNow.Add(-3 * time.Minute), Black: p64(1234567), Total: p64(1234567), Supplies: supplies, Status: status}
	}
	devices := []store.DeviceSummary{
		{ID: 1, Key: "sn:MONO", Serial: "MONO", Vendor: "HP", Model: "M404", Address: "127.0.0.1", AgentID: "site-a",
			Latest: read([]wire.Supply{
				storetest.Special(1, domain.SupplyToner, "black", -3, domain.LevelSomeRemaining),
			}, &wire.Status{Device: domain.DeviceRunning})},
		{ID: 2, Key: "sn:COLOR", Serial: "COLOR", Vendor: "Xerox", Model: "C405",
			Latest: read([]wire.Supply{
				storetest.Toner(4, "yellow", 63), storetest.Toner(1, "black", 42),
				storetest.Toner(3, "magenta", 7), storetest.Toner(2, "cyan", 100),
				storetest.Waste(5, 30),
				storetest.Measured(6, domain.SupplyDrum, "Drum", 9),
				{Index: 7, Kind: domain.SupplyFuser, Description: "Fuser", State: domain.LevelUnknown},
				{Index: 8, Kind: domain.SupplyWaste, Receptacle: true, State: domain.LevelMeasured, FullPercent: pint(95)},
			}, &wire.Status{Device: domain.DeviceDown, Conditions: []domain.Condition{domain.CondLowToner, domain.CondJammed, "new_condition"}})},
		{ID: 3, Key: "sn:INK", Serial: "INK", Vendor: "Epson", Model: "WF",
			Latest: read([]wire.Supply{
				storetest.Special(1, domain.SupplyInk, "black", -3, domain.LevelSomeRemaining),
				storetest.Special(2, domain.SupplyInk, "cyan", -100, domain.LevelEmpty),
				storetest.Special(3, domain.SupplyInk, "magenta", -2, domain.LevelUnknown),
				storetest.Special(4, domain.SupplyInk, "yellow", -1, domain.LevelOther),
				storetest.Special(5, domain.SupplyToner, "photo blue", 200, domain.LevelOverCapacity),
			}, nil)},
		{ID: 4, Key: "mac:aa:bb", Vendor: "<script>alert(1)</script>", Address: "127.0.0.4"},
	}
	s := newTestServer(t, &fakeStore{devices: devices})
	fr := request(t, s, http.MethodGet, "/backoffice/devices?lang=fr").Body.String()
	en := request(t, s, http.MethodGet, "/backoffice/devices?lang=en").Body.String()

	t.Run("counters", func(t *testing.T) {
		if r := row(t, fr, 1); !strings.Contains(r, `<td class="num">1`+"\u202f"+`234`+"\u202f"+`567</td>`) ||
			!strings.Contains(r, `<td class="num none">—</td>`) {
			t.Errorf("French counters: want 1 234 567 and a dash for the absent colour counter:\n%s", r)
		}
		if r := row(t, en, 1); !strings.Contains(r, `<td class="num">1,234,567</td>`) {
			t.Errorf("English counters: want 1,234,567:\n%s", r)
		}
		if r := row(t, fr, 4); strings.Count(r, `<td class="num none">—</td>`) != 3 {
			t.Errorf("a device without read shows three dashes:\n%s", r)
		}
	})

	t.Run("some remaining shows words and no bar", func(t *testing.T) {
		for _, tc := range []struct{ page, want string }{{fr, "reste du toner"}, {en, "some remaining"}} {
			l := level(t, row(t, tc.page, 1), map[string]string{"reste du toner": "Noir", "some remaining": "Black"}[tc.want])
			if !strings.Contains(l, tc.want) {
				t.Errorf("want %q in %s", tc.want, l)
			}
			if strings.Contains(l, "<svg") || strings.Contains(l, "width=") || strings.Contains(l, "%") {
				t.Errorf("a -3 level must have no bar and no percentage: %s", l)
			}
		}
	})

	t.Run("measured levels are bars in colour order", func(t *testing.T) {
		r := row(t, fr, 2)
		for _, tc := range []struct{ label, class, width, text string }{
			{"Noir", "k", "42", "42\u202f%"},
			{"Cyan", "c", "100", "100\u202f%"},
			{"Magenta", "m", "7", "7\u202f%"},
			{"Jaune", "y", "63", "63\u202f%"},
		} {
			l := level(t, r, tc.label)
			if !strings.Contains(l, `<rect class="fill `+tc.class+`" width="`+tc.width+`"`) || !strings.Contains(l, tc.text) {
				t.Errorf("%s level: want a %s bar %s wide and %q:\n%s", tc.label, tc.class, tc.width, tc.text, l)
			}
		}
		if !strings.Contains(level(t, r, "Magenta"), `class="level low"`) {
			t.Error("7 % is not shown as low")
		}
		order := []string{">Noir<", ">Cyan<", ">Magenta<", ">Jaune<"}
		for i := 1; i < len(order); i++ {
			if strings.Index(r, order[i-1]) > strings.Index(r, order[i]) {
				t.Errorf("%s comes after %s", order[i-1], order[i])
			}
		}
	})

	t.Run("other supplies", func(t *testing.T) {
		r := row(t, fr, 2)
		for _, want := range []string{
			"<li title=\"Waste Toner Container\">Récupérateur\u00a0: plein à 30\u202f%</li>",
			"<li class=\"alert\" title=\"Drum\">Tambour\u00a0: 9\u202f%</li>",
			"<li title=\"Fuser\">Module four\u00a0: niveau inconnu</li>",
			"<li class=\"alert\">Récupérateur\u00a0: plein à 95\u202f%</li>",
		} {
			if !strings.Contains(r, want) {
				t.Errorf("row lacks %q:\n%s", want, r)
			}
		}
		if !strings.Contains(row(t, en, 2), "Waste toner: 30% full") {
			t.Error("English waste fullness missing")
		}
	})

	t.Run("level states in words", func(t *testing.T) {
		r := row(t, fr, 3)
		for label, want := range map[string]string{
			"Noir": "reste de l&#39;encre", "Cyan": "vide", "Magenta": "niveau inconnu",
			"Jaune": "niveau non communiqué", "photo blue": "au-delà de la capacité",
		} {
			l := level(t, r, label)
			if !strings.Contains(l, want) || strings.Contains(l, "<svg") {
				t.Errorf("%s: want %q and no bar:\n%s", label, want, l)
			}
		}
		re := row(t, en, 3)
		for label, want := range map[string]string{
			"Black": "some remaining", "Cyan": "empty", "Magenta": "unknown", "Yellow": "not reported", "photo blue": "over capacity",
		} {
			if l := level(t, re, label); !strings.Contains(l, want) {
				t.Errorf("%s: want %q:\n%s", label, want, l)
			}
		}
	})

	t.Run("status badges", func(t *testing.T) {
		r := row(t, fr, 2)
		for _, want := range []string{
			`<span class="badge error">Hors service</span>`,
			`<span class="badge warn">Toner bas</span>`,
			`<span class="badge error">Bourrage papier</span>`,
			`<span class="badge warn">new_condition</span>`,
		} {
			if !strings.Contains(r, want) {
				t.Errorf("row lacks %s", want)
			}
		}
		if !strings.Contains(row(t, en, 1), `<span class="badge ok">OK</span>`) {
			t.Error("a running device without conditions is not OK")
		}
		if !strings.Contains(row(t, en, 2), `<span class="badge error">Paper jam</span>`) {
			t.Error("English badge missing")
		}
	})

	t.Run("last read", func(t *testing.T) {
		if r := row(t, fr, 1); !strings.Contains(r, `<time datetime="2026-03-02T09:57:00Z" title="2 mars 2026, 09:57 UTC">il y a 3 min</time>`) {
			t.Errorf("French last read:\n%s", r)
		}
		if r := row(t, en, 1); !strings.Contains(r, `title="Mar 2, 2026, 09:57 UTC">3 min ago</time>`) {
			t.Errorf("English last read:\n%s", r)
		}
		if r := row(t, fr, 4); !strings.Contains(r, "Aucun relevé") {
			t.Errorf("a device without read says so:\n%s", r)
		}
	})

	t.Run("no serial and escaping", func(t *testing.T) {
		r := row(t, fr, 4)
		if !strings.Contains(r, `<span class="serial key" title="Aucun numéro de série signalé : l&#39;appareil est identifié par mac:aa:bb">mac:aa:bb</span>`) {
			t.Errorf("device key not shown for a device without serial:\n%s", r)
		}
		if strings.Contains(fr, "<script>") || !strings.Contains(r, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("vendor not escaped:\n%s", r)
		}
	})

	t.Run("refresh and count", func(t *testing.T) {
		if !strings.Contains(fr, `<meta http-equiv="refresh" content="30">`) {
			t.Error("no auto-refresh")
		}
		if !strings.Contains(fr, "4 appareils") || !strings.Contains(en, "4 devices") {
			t.Error("no device count")
		}
	})
}

func TestEmptyState(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	for lang, want := range map[string]string{
		"fr": "Aucun appareil pour l&#39;instant",
		"en": "No devices yet",
	} {
		body := request(t, s, http.MethodGet, "/backoffice/devices?lang="+lang).Body.String()
		if !strings.Contains(body, want) || strings.Contains(body, "<table") {
			t.Errorf("%s: want the empty state %q and no table", lang, want)
		}
	}
}

// TestDeviceListNotReported: a black or colour meter the read says the
// model does not report is shown in words, in both languages; a meter that
// is merely absent (a mono device's colour) stays a dash.
func TestDeviceListNotReported(t *testing.T) {
	devices := []store.DeviceSummary{
		{ID: 1, Key: "sn:OKI", Serial: "OKI", Vendor: "oki", Model: "C834", Latest: &store.Read{
			At: testNow.Add(-time.Minute), Total: p64(44950),
			Unreported: []domain.CounterKind{domain.CounterBlack, domain.CounterColour}}},
		{ID: 2, Key: "sn:MONO", Serial: "MONO", Vendor: "lexmark", Model: "MS621dn", Latest: &store.Read{
			At: testNow.Add(-time.Minute), Total: p64(67320), Black: p64(67320)}},
	}
	s := newTestServer(t, &fakeStore{devices: devices})
	for _, tc := range []struct{ lang, words string }{{"en", "not reported by this model"}, {"fr", "non fourni par ce modèle"}} {
		page := request(t, s, http.MethodGet, "/backoffice/devices?lang="+tc.lang).Body.String()
		cell := `<td class="num none unreported">` + tc.words + `</td>`
		if r := row(t, page, 1); strings.Count(r, cell) != 2 {
			t.Errorf("%s: want black and colour %q:\n%s", tc.lang, cell, r)
		}
		if r := row(t, page, 2); strings.Contains(r, "unreported") || !strings.Contains(r, `<td class="num none">—</td>`) {
			t.Errorf("%s: a mono device's colour is a dash, not a missing meter:\n%s", tc.lang, r)
		}
	}
}
