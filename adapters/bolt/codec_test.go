package bolt

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestDecodeUserDocMatchesEncodingJSON: the direct reading of stored users
// must give what json.Unmarshal gives, for the records json.Marshal writes
// (odd characters, empty and absent passwords, zones, zero times) and for
// documents of any other shape, which it must hand to encoding/json.
func TestDecodeUserDocMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	texts := []string{"", "a", "2214102327@qq.com", "ünï@例子.中国", `q"uote@x`, `back\slash@x`, "<tag>&amp;@x", "tab\t@x", "\u2028@x", "\xff@x", "+8615850551102"}
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("", -3*3600-1800)}
	var docs [][]byte
	for i := range 3000 {
		var sealed []byte
		switch i % 4 {
		case 1:
			sealed = []byte{}
		case 2, 3:
			sealed = make([]byte, rng.IntN(80))
			for j := range sealed {
				sealed[j] = byte(rng.Uint32())
			}
		}
		created := time.Time{}
		if i%5 != 0 {
			created = time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9)*int64(i%2)).In(zones[i%len(zones)])
		}
		gens := []uint64{0, 1, 42, math.MaxUint64, rng.Uint64()}
		b, err := json.Marshal(userDoc{ID: texts[i%len(texts)], Phone: texts[(i/3)%len(texts)], Email: texts[(i/7)%len(texts)], SealedPassword: sealed, CreatedAt: created,
			SessionGeneration: gens[(i/2)%len(gens)]})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	docs = append(docs, [][]byte{
		[]byte(`{"phone":"+8615850551102","id":"x","email":"e@x","sealed_password":"QQ==","created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(` {"id":"x","phone":"p","email":"e@x","sealed_password":"QQ==","created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"QQ==","created_at":"2026-11-24T08:00:00Z","extra":1}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"Q Q==","created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"QQ==","created_at":"2026-13-24T08:00:00Z"}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"QQ==","created_at":"2026-11-24T08:00:00Z"`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"QQ==","created_at":"2026-11-24T08:00:00Z"}}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":"QQ=","created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":null,"created_at":"2026-11-24T08:00:00+08:00"}`),
		[]byte(`{"id":1,"phone":"p","email":"e@x","sealed_password":null,"created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(`not json`), []byte(``), []byte(`null`),
	}...)
	for _, gen := range []string{"0", "7", "01", "-1", "1.0", "1e3", "18446744073709551615", "18446744073709551616", "null", `"3"`, ""} {
		docs = append(docs, []byte(`{"id":"x","phone":"p","email":"e@x","sealed_password":null,"created_at":"2026-11-24T08:00:00Z","session_generation":`+gen+`}`))
	}
	fast := 0
	for _, b := range docs {
		var probe userDoc
		if decodeCanonicalUser(b, &probe) {
			fast++
		}
		checkDecodesAsJSON(t, b, decodeUserDoc)
	}
	// Most generated texts need escapes, which go to encoding/json; the
	// plain ones, as real records are, must be read directly.
	if fast < len(docs)/20 {
		t.Fatalf("only %d of %d documents read directly", fast, len(docs))
	}
	t.Logf("%d of %d documents read directly", fast, len(docs))
}

// checkDecodesAsJSON fails t unless decode reads b exactly as
// encoding/json does: the same document, and an error for the same
// inputs.
func checkDecodesAsJSON[T any](t testing.TB, b []byte, decode func([]byte, *T) error) {
	t.Helper()
	var got, want T
	gotErr := decode(b, &got)
	wantErr := json.Unmarshal(b, &want)
	if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q\n got  %+v, %v\n want %+v, %v", b, got, gotErr, want, wantErr)
	}
}

func BenchmarkDecodeUserDoc(b *testing.B) {
	doc, _ := json.Marshal(userDoc{ID: "0123456789abcdef0123456789abcdef", Phone: "+8615850551102", Email: "2214102327@qq.com",
		SealedPassword: make([]byte, 49), CreatedAt: time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			var d userDoc
			if err := decodeUserDoc(doc, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var d userDoc
			if err := json.Unmarshal(doc, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPendingDoc measures what every registration step pays to store
// and read back a verified registration with a password.
func BenchmarkPendingDoc(b *testing.B) {
	at := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)
	doc := pendingDoc{Phone: "+8615850551102", CodeExpiresAt: at.Add(5 * time.Minute), Attempts: 1,
		VerifiedAt: at.Add(time.Minute), VerifiedUntil: at.Add(11 * time.Minute), TokenHash: make([]byte, 32),
		ClientNet: "203.0.113.0/24", SealedPassword: make([]byte, 49), CreatedAt: at, ExpiresAt: at.Add(11 * time.Minute)}
	b.Run("encode+decode", func(b *testing.B) {
		for b.Loop() {
			data, err := encodePendingDoc(doc)
			if err != nil {
				b.Fatal(err)
			}
			var d pendingDoc
			if err := decodePendingDoc(data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	stored, _ := json.Marshal(doc)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var d pendingDoc
			if err := decodePendingDoc(stored, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			data, err := json.Marshal(doc)
			if err != nil {
				b.Fatal(err)
			}
			var d pendingDoc
			if err := json.Unmarshal(data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// randomPendingDocs returns n pending records of every shape the store
// can meet: absent, empty and binary hashes, zero and zoned times,
// negative and large attempt counts, and odd texts that json.Marshal must
// escape.
func randomPendingDocs(rng *rand.Rand, n int) []pendingDoc {
	texts := []string{"", "+8615850551102", "203.0.113.0/24", "2001:db8::/56", "ünï 例子", `q"uote`, `back\slash`, "<tag>&amp;", "tab\t", "\u2028", "\u2029x", "\xff", "\x00", "\U0001F600"}
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("", -3*3600-1800)}
	bin := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		v := make([]byte, rng.IntN(70))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		return v
	}
	tm := func() time.Time {
		switch rng.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(rng.Int64N(4e9)-1e9, 0).UTC()
		}
		return time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	attempts := []int{0, 0, 1, 2, 5, -1, math.MaxInt, math.MinInt}
	docs := make([]pendingDoc, n)
	for i := range docs {
		docs[i] = pendingDoc{
			Phone: texts[rng.IntN(len(texts))], CodeHash: bin(), CodeExpiresAt: tm(), Attempts: attempts[rng.IntN(len(attempts))],
			VerifiedAt: tm(), VerifiedUntil: tm(), TokenHash: bin(), ClientNet: texts[rng.IntN(len(texts))],
			SealedPassword: bin(), CreatedAt: tm(), ExpiresAt: tm(),
		}
		if i%3 == 0 { // the shape real records have
			docs[i].Phone, docs[i].ClientNet = "+8615850551102", texts[2+i%2]
		}
	}
	return docs
}

// TestPendingDocMatchesEncodingJSON: the direct writing of pending records
// must give the very bytes json.Marshal gives, so that what is on disk
// does not change, and the direct reading must give what json.Unmarshal
// gives, for those records and for documents of any other shape (written
// by earlier versions, or damaged), which it hands to encoding/json.
func TestPendingDocMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var stored [][]byte
	direct := 0
	for _, d := range randomPendingDocs(rng, 5000) {
		got, gotErr := encodePendingDoc(d)
		want, wantErr := json.Marshal(d)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%+v\n got  %s, %v\n want %s, %v", d, got, gotErr, want, wantErr)
		}
		if _, ok := appendCanonicalPending(nil, &d); ok {
			direct++
		}
		stored = append(stored, want)
	}
	if direct < 1000 {
		t.Fatalf("only %d of 5000 records written directly", direct)
	}
	// Years json.Marshal refuses: both must refuse.
	for _, y := range []int{-1, 10000} {
		d := pendingDoc{Phone: "+8615850551102", CreatedAt: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := encodePendingDoc(d); err == nil {
			t.Fatalf("year %d encoded", y)
		}
	}
	stored = append(stored, [][]byte{
		// as written before the registration binding: no verified_until,
		// token_hash or client_net
		[]byte(`{"phone":"+8615850551102","code_hash":"AAEC","code_expires_at":"2026-11-24T08:05:00Z","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:05:00Z"}`),
		[]byte(`{"phone":"+8615850551102","verified_at":"2026-11-24T08:01:00.5Z","sealed_password":"QUJD","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		// as a writer without omitzero would have written the zero times
		[]byte(`{"phone":"+8615850551102","code_hash":null,"code_expires_at":"0001-01-01T00:00:00Z","attempts":0,"verified_at":"0001-01-01T00:00:00Z","sealed_password":null,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+8615850551102","code_hash":"","attempts":-0,"created_at":"2026-11-24T08:00:00+08:00","expires_at":"2026-11-24T08:11:00-03:30"}`),
		// other orders, spaces, escapes, unknown and repeated keys, other cases
		[]byte(`{"created_at":"2026-11-24T08:00:00Z","phone":"+8615850551102","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{ "phone":"+8615850551102","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+86\u0031","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","extra":1,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","Attempts":3,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z","phone":"+862"}`),
		[]byte(`{"phone":"+861","created_at":"2026-11-24T08:00:00Z","expires_at":null}`),
		// damaged
		[]byte(`{"phone":"+861","attempts":1.5,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","attempts":1e2,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","attempts":01,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","attempts":99999999999999999999,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","code_hash":"AAE","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","created_at":"2026-13-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`),
		[]byte(`{"phone":"+861","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"`),
		[]byte(`{"phone":"+861","created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}}`),
		[]byte(`{"phone":"+861","created_at":"2026-11-24T08:00:00Z"}`),
		[]byte(`not json`), []byte(``), []byte(`null`), []byte(`{}`),
	}...)
	read := 0
	for _, b := range stored {
		var probe pendingDoc
		if decodeCanonicalPending(b, &probe) {
			read++
		}
		checkDecodesAsJSON(t, b, decodePendingDoc)
	}
	if read < 1000 {
		t.Fatalf("only %d of %d documents read directly", read, len(stored))
	}
	t.Logf("%d of 5000 records written directly, %d of %d documents read directly", direct, read, len(stored))
}

// FuzzDecodePendingDoc: the direct reading never panics, and whatever it
// accepts, encoding/json accepts with the same result.
func FuzzDecodePendingDoc(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, d := range randomPendingDocs(rng, 40) {
		if b, err := json.Marshal(d); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"phone":"+861","attempts":-0,"created_at":"2026-11-24T08:00:00Z","expires_at":"2026-11-24T08:11:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodesAsJSON(t, b, decodePendingDoc)
	})
}

// randomSessionDocs returns n session records of every shape the store
// can meet: the ids it makes and odd texts json.Marshal must escape,
// zero, large and extreme counters, zero, whole-second, zoned times and
// years json.Marshal refuses, revoked or not.
func randomSessionDocs(rng *rand.Rand, n int) []sessionDoc {
	texts := []string{"", "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "ünï 例子", `q"uote`, `back\slash`, "<tag>&amp;", "tab\t", "\u2028", "\xff", "\x00", "\U0001F600"}
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("", -3*3600-1800)}
	counters := []uint64{0, 0, 1, 7, 1 << 32, math.MaxUint64}
	tm := func() time.Time {
		switch rng.IntN(6) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(rng.Int64N(4e9)-1e9, 0).UTC()
		case 2:
			return time.UnixMilli(rng.Int64N(4e12)).UTC()
		case 3:
			if rng.IntN(20) == 0 {
				return time.Date(10000+rng.IntN(2), 1, 1, 0, 0, 0, 0, time.UTC)
			}
		}
		return time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	docs := make([]sessionDoc, n)
	for i := range docs {
		docs[i] = sessionDoc{
			ID: texts[rng.IntN(len(texts))], UserID: texts[rng.IntN(len(texts))],
			Generation: counters[rng.IntN(len(counters))], Seq: counters[rng.IntN(len(counters))],
			IssuedAt: tm(), AccessExpiresAt: tm(), RefreshExpiresAt: tm(), Revoked: rng.IntN(3) == 0, ExpiresAt: tm(),
		}
		if i%3 == 0 { // the shape real records have
			docs[i].ID, docs[i].UserID = texts[2], texts[1]
		}
	}
	return docs
}

// TestSessionDocMatchesEncodingJSON: the direct writing of session records
// must give the very bytes json.Marshal gives (and refuse what it
// refuses), and the direct reading must give what json.Unmarshal gives,
// for those records and for documents of any other shape, which it hands
// to encoding/json.
func TestSessionDocMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var stored [][]byte
	direct := 0
	for _, d := range randomSessionDocs(rng, 5000) {
		got, gotErr := encodeSessionDoc(&d)
		want, wantErr := json.Marshal(d)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%+v\n got  %s, %v\n want %s, %v", d, got, gotErr, want, wantErr)
		}
		if _, ok := appendCanonicalSession(nil, &d); ok {
			direct++
		}
		if wantErr == nil {
			stored = append(stored, want)
		}
	}
	if direct < 1000 {
		t.Fatalf("only %d of 5000 records written directly", direct)
	}
	const times = `"issued_at":"2026-11-24T08:00:00.123Z","access_expires_at":"2026-11-24T08:15:00Z","refresh_expires_at":"2026-12-24T08:00:00.123Z"`
	stored = append(stored, [][]byte{
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"revoked":false,"expires_at":"2026-12-24T08:00:00.123Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"revoked":true,"revoked":false,"expires_at":"2026-12-24T08:00:00.123Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00+08:00"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `}`),
		[]byte(`{"user_id":"u","id":"s","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s", "user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"\u0073","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,"extra":2,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z","id":"t"}`),
		[]byte(`{"id":"s","user_id":"u","generation":null,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		// damaged
		[]byte(`{"id":"s","user_id":"u","generation":-1,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":01,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":1.0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":18446744073709551616,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-13-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"revoked":1,"expires_at":"2026-12-24T08:00:00Z"}`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"`),
		[]byte(`{"id":"s","user_id":"u","generation":0,"seq":1,` + times + `,"expires_at":"2026-12-24T08:00:00Z"}}`),
		[]byte(`not json`), []byte(``), []byte(`null`), []byte(`{}`),
	}...)
	read := 0
	for _, b := range stored {
		var probe sessionDoc
		if decodeCanonicalSession(b, &probe) {
			read++
		}
		checkDecodesAsJSON(t, b, decodeSessionDoc)
	}
	if read < 1000 {
		t.Fatalf("only %d of %d documents read directly", read, len(stored))
	}
	t.Logf("%d of 5000 records written directly, %d of %d documents read directly", direct, read, len(stored))
}

// FuzzDecodeSessionDoc: the direct reading never panics, and whatever it
// accepts, encoding/json accepts with the same result.
func FuzzDecodeSessionDoc(f *testing.F) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, d := range randomSessionDocs(rng, 40) {
		if b, err := json.Marshal(d); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodesAsJSON(t, b, decodeSessionDoc)
	})
}

// BenchmarkSessionDoc measures what every refresh pays to read a session
// record and write its successor.
func BenchmarkSessionDoc(b *testing.B) {
	at := time.Date(2026, 11, 24, 8, 0, 0, 123000000, time.UTC)
	doc := sessionDoc{ID: "fedcba9876543210fedcba9876543210", UserID: "0123456789abcdef0123456789abcdef", Seq: 17,
		IssuedAt: at, AccessExpiresAt: at.Add(15 * time.Minute), RefreshExpiresAt: at.Add(720 * time.Hour), ExpiresAt: at.Add(720 * time.Hour)}
	b.Run("decode+encode", func(b *testing.B) {
		stored, _ := json.Marshal(doc)
		for b.Loop() {
			var d sessionDoc
			if err := decodeSessionDoc(stored, &d); err != nil {
				b.Fatal(err)
			}
			if _, err := encodeSessionDoc(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		stored, _ := json.Marshal(doc)
		for b.Loop() {
			var d sessionDoc
			if err := json.Unmarshal(stored, &d); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
