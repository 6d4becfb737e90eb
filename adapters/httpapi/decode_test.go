package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
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
		if !ok && kinds[i] == optionalStringField {
			continue
		}
		if !ok {
			return nil, errBadRequest
		}
		raw = bytes.TrimSpace(raw)
		switch {
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

var (
	loginNames = []string{"phone_number", "encryption_str", "random_str", "time_stamp"}
	loginKinds = []fieldKind{stringField, stringField, stringField, integerField}
)

var (
	step3Names = []string{"phone_number", "password", "password_confirm", "registration_token"}
	step3Kinds = []fieldKind{stringField, stringField, stringField, optionalStringField}
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
}

// TestDecodeFieldsMatchesEncodingJSON compares decodeFields with the
// reference on tricky bodies and on many random mutations of them.
func TestDecodeFieldsMatchesEncodingJSON(t *testing.T) {
	check := func(body []byte) {
		checkDecode(t, body, loginNames, loginKinds)
		checkDecode(t, body, step3Names, step3Kinds)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(`{}[]":,\ 0123456789-.eE+tfnul_"abcphone_numberencryption_strrandom_strtime_stamp` + "\t\n\xff\xc3\xa9")
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
		checkDecode(t, body, loginNames, loginKinds)
		checkDecode(t, body, step3Names, step3Kinds)
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
		got, err := decodeFields([]byte(c.body), step3Names, step3Kinds)
		if err != c.err || (err == nil && got[3] != c.token) {
			t.Errorf("%s: %q, %v; want token %q, %v", c.body, got, err, c.token, c.err)
		}
	}
}
