package test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// record is one stored record as the raw store shows it: where it is,
// and its bytes (key and value, or the document as extended JSON).
type record struct {
	where string // bucket path, or collection
	key   string // bbolt key, or the document's _id
	text  string
}

// boltRecords reads every record of the bbolt file at path, in every
// bucket, nested ones included. The file must be closed by the service.
func boltRecords(t *testing.T, path string) []record {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	var out []record
	var walk func(where string, b *bbolt.Bucket) error
	walk = func(where string, b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(where+"/"+string(k), b.Bucket(k))
			}
			out = append(out, record{where: where, key: string(k), text: string(k) + " " + string(v)})
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(string(name), b) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mongoRecords reads every document of every collection of database db.
func mongoRecords(t *testing.T, uri, db string) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := mongodriver.Connect(mongooptions.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.WithoutCancel(ctx))
	names, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var out []record
	for _, name := range names {
		if strings.HasPrefix(name, "system.") {
			continue
		}
		cur, err := c.Database(db).Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatalf("find in %s: %v", name, err)
		}
		for cur.Next(ctx) {
			text, err := bson.MarshalExtJSON(cur.Current, false, false)
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if v, err := cur.Current.LookupErr("_id"); err == nil {
				id = strings.Trim(v.String(), `"`)
			}
			out = append(out, record{where: name, key: id, text: string(text)})
		}
		if err := cur.Err(); err != nil {
			t.Fatal(err)
		}
		cur.Close(ctx)
	}
	return out
}

// numberWindows are the prefixes of the rate-limit windows keyed by a
// phone number: abuse counters about the number, kept until their window
// ends (at most 24 h), whoever held the number.
var numberWindows = []string{"sms:cooldown:", "sms:day:", "code-failures:", "logins:"}

// kept reports whether r is a number-keyed rate-limit window: the one
// thing a deletion leaves.
func kept(r record) bool {
	if r.where != "rate_limits" {
		return false
	}
	for _, p := range numberWindows {
		if strings.HasPrefix(r.key, p) {
			return true
		}
	}
	return false
}

// mentions lists the records that mention any of the strings.
func mentions(records []record, what map[string]string) []string {
	var found []string
	for _, r := range records {
		for name, s := range what {
			if strings.Contains(r.text, s) {
				found = append(found, name+" in "+r.where+" "+r.key)
			}
		}
	}
	return found
}

// TestAccountDeletionLeavesNothing: an account with everything a store
// can hold of it — sessions refreshed and logged out, a pending reset
// code, a pending phone change, a login lock's count, rate-limit windows —
// is deleted, and then no record of the raw store (the bbolt file, read
// after the service stopped; every MongoDB collection) mentions its id,
// its number, the number it was moving to, or its email, except the
// rate-limit windows keyed by a number. Before the deletion the same scan
// finds all of them (the scan sees what it looks for), and after it still
// finds the account that stays.
func TestAccountDeletionLeavesNothing(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			o := withVars(storeOptions(t, store), "SMS_HOURLY_LIMIT_PER_IP", "0")
			o.dataDir, o.clock, o.sms = t.TempDir(), apptest.NewClock(time.Now()), capture.New()
			scan := func() []record {
				if store == "mongo" {
					return mongoRecords(t, o.vars["MONGO_URI"], o.vars["MONGO_DATABASE"])
				}
				return boltRecords(t, filepath.Join(o.dataDir, "phoneauth.db"))
			}

			in := start(t, o)
			doomed := account{"13894000001", "doomed-pass-1", "doomed.person@qq.com"}
			stays := account{"13894000002", "stays-pass-1", "stays.person@qq.com"}
			const moving = "13894000011"
			in.register(t, doomed.phone, doomed.password, doomed.email)
			in.register(t, stays.phone, stays.password, stays.email)
			s := in.loginAs(t, doomed)
			id := subOf(t, s.Token)
			in.refresh(t, in.loginAs(t, doomed).RefreshToken)
			out := in.loginAs(t, doomed)
			in.expectCall(t, http.MethodPost, "/client/logout", m{}, 200, loggedOutAnswer, "token", out.Token)
			in.refresh(t, in.loginAs(t, stays).RefreshToken)
			in.expect(t, "/client/login", loginBody(doomed.phone, "wrong-pass-1", nextRandom(), in.clock.Now().Unix()), 200, wrongPasswordAnswer)
			in.clock.Advance(61 * time.Second)
			in.expect(t, pathResetStep1, m{"phone_number": doomed.phone}, 200, sent)
			in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(doomed.password), "new_phone_number", moving), 200, sent)

			doomedOf := map[string]string{"its id": id, "its number": doomed.phone, "the number it was moving to": moving, "its email": doomed.email}
			staysOf := map[string]string{"the other account's id": subOf(t, in.loginAs(t, stays).Token), "the other account's number": stays.phone, "the other account's email": stays.email}
			if store == "embedded" {
				in.stop()
			}
			before := scan()
			for name, s := range doomedOf {
				if name != "the number it was moving to" && len(mentions(before, map[string]string{name: s})) == 0 {
					t.Fatalf("before the deletion the scan finds no record with %s: it proves nothing", name)
				}
			}
			if n := len(mentions(before, map[string]string{"id": id})); n < 3 {
				t.Fatalf("before the deletion %d records mention the id; want the account, its index and its sessions at least", n)
			}
			if store == "embedded" {
				in = start(t, o)
			}

			s = in.loginAs(t, doomed)
			in.deleteAccount(t, s.Token, doomed.password)
			if store == "embedded" {
				in.stop()
			}
			after := scan()
			var stray, keptWindows []record
			for _, r := range after {
				if len(mentions([]record{r}, doomedOf)) == 0 {
					continue
				}
				if kept(r) {
					keptWindows = append(keptWindows, r)
					continue
				}
				stray = append(stray, r)
			}
			if len(stray) > 0 {
				t.Errorf("after the deletion the store still holds:\n  %s", strings.Join(mentions(stray, doomedOf), "\n  "))
			}
			for name, s := range staysOf {
				if len(mentions(after, map[string]string{name: s})) == 0 {
					t.Errorf("after the deletion no record has %s: the deletion took too much", name)
				}
			}
			t.Logf("%d records before, %d after; number-keyed windows kept: %d", len(before), len(after), len(keptWindows))

			if store == "embedded" {
				// bbolt does not overwrite freed pages: the bytes of a
				// deleted record can stay in the file until the page is
				// reused. Said here, not asserted: the records are gone.
				raw, err := os.ReadFile(filepath.Join(o.dataDir, "phoneauth.db"))
				if err == nil && bytes.Contains(raw, []byte(doomed.email)) {
					t.Logf("the deleted email's bytes are still in a free page of the bbolt file")
				}
			}
		})
	}
}
