package billing

import (
	"strings"
	"testing"
	"time"
)

func TestWriteCSV(t *testing.T) {
	rows := []ExportRow{
		{CustomerNumber: "CL001007", ContractNumber: "K-1", Serial: "3923656030", Model: "7855V_F",
			PeriodStart: date(2025, 1, 1), PeriodEnd: date(2025, 3, 31), ReadAt: date(2025, 4, 1).Add(8 * time.Hour),
			Black: p64(39684), Colour: p64(89675), Source: SourceAgent, Flags: "counter_reset", Review: ReviewNone},
		{CustomerNumber: "CL002", ContractNumber: "K-2", Serial: "X, \"quoted\"", Model: "M404",
			PeriodStart: date(2025, 2, 15), PeriodEnd: date(2025, 3, 31), ReadAt: date(2025, 4, 1),
			Total: p64(12), Source: SourceEstimated, Method: "history:182d", Review: ReviewNone},
	}
	var b strings.Builder
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := `customer_number,contract_number,serial,model,period_start,period_end,read_at,black,colour,total,source,method,flags,review
CL001007,K-1,3923656030,7855V_F,2025-01-01,2025-03-31,2025-04-01T08:00:00Z,39684,89675,,agent,,counter_reset,none
CL002,K-2,"X, ""quoted""",M404,2025-02-15,2025-03-31,2025-04-01T00:00:00Z,,,12,estimated,history:182d,,none
`
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
}
