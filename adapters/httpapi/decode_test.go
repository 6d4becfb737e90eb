package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// decodeFieldsReference is decodeFields as first written, on
// encoding/json alone: the behaviour decodeFields must keep.
func decodeFieldsReference(body []byte, names []string, kinds []fieldKind) ([]string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, errBadRequest
	}
	out := make([]string, len(names))
	for i, name := range names {
		raw, ok := obj[name]
		if !ok && (kinds[i] == optionalStringField || kinds[i] == optionalBoolField) {
			continue
		}
		if !ok {
			return nil, errBadRequest
		}
		raw = bytes.TrimSpace(raw)
		switch {
		case kinds[i] == optionalBoolField:
			var b *bool
			if err := json.Unmarshal(raw, &b); err != nil || b == nil {
				return nil, errBadRequest
			}
			out[i] = strconv.FormatBool(*b)
		case len(raw) > 0 && raw[0] == '"':
			if err := json.Unmarshal(raw, &out[i]); err != nil {
				return nil, errBadRequest
			}
		case kinds[i] == integerField && isJSONInteger(raw):
			out[i] = string(raw)
		default:
			return nil, errBadRequest
		}
	}
	return out, nil
}

// The plans of three request types: one with an integer field, one with
// an optional field, one with an optional bool.
var (
	loginPlan  = planOf(reflect.TypeFor[loginRequest]())
	step3Plan  = planOf(reflect.TypeFor[step3Request]())
	logoutPlan = planOf(reflect.TypeFor[logoutRequest]())
)

var decodeSeeds = []string{
	`{"phone_number":"1","password":"p","password_confirm":"p"}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":"t"}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":""}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":null}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":7}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":{"$ne":null}}`,
	`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":["t"]}`,
	`{"registration_token":"t","password":"p","password_confirm":"p"}`,
	`{"phone_number":"15850551102","encryption_str":"ab","random_str":"r","time_stamp":"1764000000"}`,
	` { "phone_number" : "15850551102" , "encryption_str" : "ab" , "random_str" : "r" , "time_stamp" : 1764000000 } `,
	`{"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":-17}`,
	`{"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":1.5}`,
	`{"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":1e3}`,
	`{"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":12345678901234567890}`,
	`{"phone_number":"a","phone_number":"b","encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"phone\u005fnumber":"esc","encryption_str":"e\"q\\u00e9\n","random_str":"\ud83d\ude00","time_stamp":"1"}`,
	`{"phone_number":{"$ne":null},"encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"phone_number":["a"],"encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"phone_number":null,"encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"phone_number":true,"encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"x":{"phone_number":"nested"},"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":"1","y":[1,{"a":"}"}]}`,
	`{"PHONE_NUMBER":"1","encryption_str":"e","random_str":"r","time_stamp":"1"}`,
	`{"phone_number":"` + "\xff\xfe" + `","encryption_str":"\xed\xa0\x80","random_str":"r","time_stamp":"1"}`,
	`{"phone_number":"1","encryption_str":"e","random_str":"r"}`,
	`{"phone_number":"1","encryption_str":"e","random_str":"r","time_stamp":"1"`,
	`{"phone_number":"1",}`,
	`null`, `[]`, `"s"`, `1`, ``, `{}`, `{"a":1}{}`, "\ufeff{}",
	`{"refresh_token":"pa_rt1_x","all":true}`, `{"all":false}`, `{"all":"true"}`, `{"all":null}`, `{"all":1}`,
	`{"all":{"$ne":null}}`, `{"all":[true]}`, `{"all": true , "refresh_token":null}`, `{"all":truex}`,
}

// TestDecodeFieldsMatchesEncodingJSON compares decodeFields with the
// reference on tricky bodies and on many random mutations of them.
func TestDecodeFieldsMatchesEncodingJSON(t *testing.T) {
	check := func(body []byte) {
		checkDecode(t, body, loginPlan.names, loginPlan.kinds)
		checkDecode(t, body, step3Plan.names, step3Plan.kinds)
		checkDecode(t, body, logoutPlan.names, logoutPlan.kinds)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(`{}[]":,\ 0123456789-.eE+tfnul_"abcphone_numberencryption_strrandom_strtime_stamprefresh_tokenall` + "\t\n\xff\xc3\xa9")
	for _, seed := range decodeSeeds {
		check([]byte(seed))
		for range 3000 {
			b := []byte(seed)
			for range 1 + rng.IntN(3) {
				switch op := rng.IntN(3); {
				case op == 0 && len(b) > 0: // replace a byte
					b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
				case op == 1: // insert a byte
					i := rng.IntN(len(b) + 1)
					b = slices.Insert(b, i, alphabet[rng.IntN(len(alphabet))])
				case len(b) > 0: // delete a byte
					i := rng.IntN(len(b))
					b = slices.Delete(b, i, i+1)
				}
			}
			check(b)
		}
	}
}

func FuzzDecodeFields(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body, loginPlan.names, loginPlan.kinds)
		checkDecode(t, body, step3Plan.names, step3Plan.kinds)
		checkDecode(t, body, logoutPlan.names, logoutPlan.kinds)
	})
}

// checkDecode fails t unless decodeFields answers as the reference.
func checkDecode(t *testing.T, body []byte, names []string, kinds []fieldKind) {
	t.Helper()
	got, gotErr := decodeFields(body, names, kinds)
	want, wantErr := decodeFieldsReference(body, names, kinds)
	if gotErr != wantErr || !slices.Equal(got, want) {
		t.Fatalf("body %q as %v\n got  %q, %v\n want %q, %v", body, names, got, gotErr, want, wantErr)
	}
}

// TestOptionalField: absent is "", a string is itself, any other JSON
// type is a bad request.
func TestOptionalField(t *testing.T) {
	cases := []struct {
		body  string
		token string
		err   error
	}{
		{`{"phone_number":"1","password":"p","password_confirm":"p"}`, "", nil},
		{`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":"t\u00e9"}`, "té", nil},
		{`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":null}`, "", errBadRequest},
		{`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":7}`, "", errBadRequest},
		{`{"phone_number":"1","password":"p","password_confirm":"p","registration_token":{"$ne":null}}`, "", errBadRequest},
		{`{"password":"p","password_confirm":"p","registration_token":"t"}`, "", errBadRequest},
	}
	for _, c := range cases {
		var req step3Request
		err := decode([]byte(c.body), &req)
		if err != c.err || req.RegistrationToken != c.token {
			t.Errorf("%s: %+v, %v; want token %q, %v", c.body, req, err, c.token, c.err)
		}
	}
}

// TestDecodeFillsTheNamedFields: each field of a request type gets the
// member its tag names, and a refused body leaves the request untouched.
func TestDecodeFillsTheNamedFields(t *testing.T) {
	var login loginRequest
	err := decode([]byte(`{"time_stamp":1764000000,"random_str":"r","encryption_str":"e","phone_number":"p","other":1}`), &login)
	if want := (loginRequest{PhoneNumber: "p", EncryptionStr: "e", RandomStr: "r", TimeStamp: "1764000000"}); err != nil || login != want {
		t.Fatalf("login: %+v, %v; want %+v", login, err, want)
	}
	var step2 step2Request
	if err := decode([]byte(`{"phone_number":"p","validate_number":"123456"}`), &step2); err != nil || step2 != (step2Request{"p", "123456"}) {
		t.Fatalf("step 2: %+v, %v", step2, err)
	}
	step4 := step4Request{PhoneNumber: "kept"}
	if err := decode([]byte(`{"phone_number":"p","email":7}`), &step4); err != errBadRequest || step4 != (step4Request{PhoneNumber: "kept"}) {
		t.Fatalf("refused step 4: %+v, %v", step4, err)
	}
}

// TestNotARequestType: a type decode cannot fill is refused loudly, on
// its first use, rather than decoded partly.
func TestNotARequestType(t *testing.T) {
	cases := map[string]any{
		"untagged": &struct{ PhoneNumber string }{},
		"unexported": &struct {
			phone string `field:"phone_number"`
		}{},
		"not a string": &struct {
			N int `field:"n"`
		}{},
		"unknown option": &struct {
			S string `field:"s,omitempty"`
		}{},
		"not a struct": new(string),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("decode into %T did not panic", req)
				}
			}()
			_ = decode([]byte(`{}`), req)
		})
	}
}

// BenchmarkDecode is a login body decoded by decode, with the scanner
// behind it, and by the encoding/json reference that the scanner must
// answer as: the scanner's reason to exist is the difference.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"phone_number":"15850551102","encryption_str":"5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99","random_str":"r1","time_stamp":"1764000000"}`)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var req loginRequest
			if err := decode(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeFieldsReference(body, loginPlan.names, loginPlan.kinds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
