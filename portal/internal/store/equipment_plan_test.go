package store

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/schema/schematest"
)

// TestEquipmentPageReadsTheIndex: a page of My equipment is read from the
// index devices_equipment_order, never by sorting the account's devices
// (the page's time would grow with the account); the page's 50 rows
// alone are sorted after their joins. SQLite's plan is checked: it is
// the same whatever the table's statistics.
func TestEquipmentPageReadsTheIndex(t *testing.T) {
	s, err := Open(context.Background(), schematest.SQLiteURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.QueryxContext(context.Background(), "EXPLAIN QUERY PLAN "+equipmentPage, 1, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(plan, "\n")
	if !strings.Contains(got, "devices_equipment_order") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("plan of\n%s\nis\n%s\nwant a search of devices_equipment_order and no sort", equipmentPage, got)
	}
}
