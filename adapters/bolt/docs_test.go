package bolt

import (
	"encoding/json"
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
		b, err := json.Marshal(userDoc{ID: texts[i%len(texts)], Phone: texts[(i/3)%len(texts)], Email: texts[(i/7)%len(texts)], SealedPassword: sealed, CreatedAt: created})
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
	fast := 0
	for _, b := range docs {
		var got, want userDoc
		var probe userDoc
		if decodeCanonicalUser(b, &probe) {
			fast++
		}
		gotErr := decodeUserDoc(b, &got)
		wantErr := json.Unmarshal(b, &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\n got  %+v, %v\n want %+v, %v", b, got, gotErr, want, wantErr)
		}
	}
	// Most generated texts need escapes, which go to encoding/json; the
	// plain ones, as real records are, must be read directly.
	if fast < len(docs)/20 {
		t.Fatalf("only %d of %d documents read directly", fast, len(docs))
	}
	t.Logf("%d of %d documents read directly", fast, len(docs))
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
