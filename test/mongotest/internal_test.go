package mongotest

import (
	"strings"
	"testing"
)

func TestDatabaseName(t *testing.T) {
	seen := map[string]bool{}
	for i, name := range []string{"TestX", "TestX/sub test#01", strings.Repeat("Long", 40), "Ünïcode/名前"} {
		db := databaseName(name, int64(i))
		if len(db) > 63 || strings.Trim(db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("databaseName(%q) = %q: not a name every server accepts", name, db)
		}
		if seen[db] {
			t.Errorf("databaseName(%q) = %q twice", name, db)
		}
		seen[db] = true
	}
	if a, b := databaseName("T", 1), databaseName("T", 2); a == b {
		t.Errorf("same name for different sequence numbers: %q", a)
	}
}
