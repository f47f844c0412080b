package server

import "testing"

// TestCSVCellDefusesFormulas: every cell a spreadsheet would evaluate as a
// formula gets a leading apostrophe, including after leading white space or
// newlines and with full-width triggers; plain values are untouched.
func TestCSVCellDefusesFormulas(t *testing.T) {
	for _, v := range []string{
		"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx",
		" =cmd|' /C calc'!A0", "  +1", "\n=1+1", "\r\n@x", " \t-2", "\u00a0=1", "\u3000=1",
		"＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝1", "\n＠x",
	} {
		if got := csvCell(v); got != "'"+v {
			t.Errorf("csvCell(%q) = %q, want it defused", v, got)
		}
	}
	for _, v := range []string{"", "alice", "jira:issue:10001", "DEV-1 a=b", "  padded", " ", "5-3", "e=mc²"} {
		if got := csvCell(v); got != v {
			t.Errorf("csvCell(%q) = %q, want it unchanged", v, got)
		}
	}
}
