package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// errBadRequest is any body that is not the JSON object an endpoint
// expects: not JSON, a required field missing, a field of the wrong JSON
// type (including operator objects such as {"$ne": null}, and null).
var errBadRequest = errors.New("bad request")

// A request type is one endpoint's body (requests.go): a struct of
// exported string (or bool) fields, each tagged with its JSON name and,
// after a comma, what else it accepts:
//
//	PhoneNumber       string `field:"phone_number"`                // a JSON string, required
//	RegistrationToken string `field:"registration_token,optional"` // may be absent: ""
//	TimeStamp         string `field:"time_stamp,integer"`          // a JSON string or integer, as its text
//	All               bool   `field:"all,optional"`                // a JSON true or false; absent: false
//
// decode is the one way a body becomes a request.

// decode reads body into req, a pointer to a request type. Any body that
// is not the object the type describes is errBadRequest, and then req is
// left as it was. The rules are decodeFields'.
func decode(body []byte, req any) error {
	v := reflect.ValueOf(req).Elem()
	p := planOf(v.Type())
	values, err := decodeFields(body, p.names, p.kinds)
	if err != nil {
		return err
	}
	for i, s := range values {
		if p.kinds[i] == optionalBoolField {
			v.Field(p.index[i]).SetBool(s == "true")
			continue
		}
		v.Field(p.index[i]).SetString(s)
	}
	return nil
}

// plan is what decode needs to know of a request type, read once from
// its tags.
type plan struct {
	names []string
	kinds []fieldKind
	index []int // of the struct field that holds names[i]
}

// plans caches a *plan per request type.
var plans sync.Map

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p, _ := plans.LoadOrStore(t, newPlan(t))
	return p.(*plan)
}

// newPlan reads t's tags. A type that is not a request type is a
// programming error: it panics, on the first request of its endpoint.
func newPlan(t reflect.Type) *plan {
	if t.Kind() != reflect.Struct {
		panic("httpapi: " + t.String() + " is not a request type: not a struct")
	}
	p := &plan{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("field")
		goKind := f.Type.Kind()
		if !ok || !f.IsExported() || (goKind != reflect.String && goKind != reflect.Bool) {
			panic("httpapi: " + t.String() + "." + f.Name + " is not an exported string or bool field with a field tag")
		}
		name, option, _ := strings.Cut(tag, ",")
		var kind fieldKind
		switch {
		case goKind == reflect.Bool && option == "optional":
			kind = optionalBoolField
		case goKind == reflect.Bool:
			panic("httpapi: " + t.String() + "." + f.Name + ": a bool field must be optional")
		case option == "":
			kind = stringField
		case option == "optional":
			kind = optionalStringField
		case option == "integer":
			kind = integerField
		default:
			panic("httpapi: " + t.String() + "." + f.Name + ": unknown field option " + strconv.Quote(option))
		}
		p.names = append(p.names, name)
		p.kinds = append(p.kinds, kind)
		p.index = append(p.index, i)
	}
	return p
}

// fieldKind says which JSON types a field accepts.
type fieldKind int

const (
	stringField fieldKind = iota
	// integerField accepts a JSON string or a JSON integer; either way the
	// handler gets its exact text, because login hashes that text.
	integerField
	// optionalStringField is a stringField that may be absent, which the
	// handler sees as "". Present, it must be a JSON string like any other.
	optionalStringField
	// optionalBoolField accepts a JSON true or false, as the text "true"
	// or "false", or may be absent: "" (false). Nothing else, not even
	// the string "true".
	optionalBoolField
)

// decodeFields reads body as one JSON object and returns the named fields
// as strings, in order; an absent optional field is "". Unknown fields are ignored, so clients may send
// more; keys match exactly (encoding/json's struct decoding would also
// match "PHONE_NUMBER"); of repeated keys the last counts. Nothing but a
// plain Go string leaves this function, which is what keeps operator
// objects out of every query.
//
// It answers exactly as decoding into map[string]json.RawMessage and then
// each field into a string would (TestDecodeFieldsMatchesEncodingJSON),
// in one validating pass and one scan instead of three passes, a map and
// a copy of every value: it is on every request.
func decodeFields(body []byte, names []string, kinds []fieldKind) ([]string, error) {
	if !json.Valid(body) {
		return nil, errBadRequest
	}
	raws := make([][]byte, len(names))
	if !topLevelFields(body, names, raws) {
		return nil, errBadRequest
	}
	out := make([]string, len(names))
	for i, raw := range raws {
		switch {
		case raw == nil && (kinds[i] == optionalStringField || kinds[i] == optionalBoolField):
			out[i] = ""
		case raw == nil:
			return nil, errBadRequest
		case kinds[i] == optionalBoolField:
			if b := string(raw); b != "true" && b != "false" {
				return nil, errBadRequest
			}
			out[i] = string(raw)
		case raw[0] == '"':
			out[i] = unquote(raw)
		case kinds[i] == integerField && isJSONInteger(raw):
			out[i] = string(raw)
		default:
			return nil, errBadRequest
		}
	}
	return out, nil
}

// topLevelFields scans body, which must be valid JSON, and sets raws[i]
// to the value of the last member named names[i] of the top-level object.
// It reports false if the top level is not an object.
func topLevelFields(body []byte, names []string, raws [][]byte) bool {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] == '"' {
		end := skipValue(body, i)
		key := body[i:end]
		i = skipSpace(body, end)
		i = skipSpace(body, i+1) // the ':'
		end = skipValue(body, i)
		value := body[i:end]
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		for n := range names {
			if keyIs(key, names[n]) {
				raws[n] = value
			}
		}
	}
	return true
}

// keyIs reports whether the JSON string literal key is name. A key
// without escapes is compared as it is, without a copy: this runs for
// every member of every body. (Invalid UTF-8, which unquote would
// replace, cannot equal a name either way: names are valid.)
func keyIs(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return unquote(key) == name
	}
	return string(inner) == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i // the end of the enclosing object
			}
		case ',':
			if depth == 0 {
				return i
			}
		case ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// unquote decodes a valid JSON string literal as encoding/json does
// (escapes resolved, invalid UTF-8 replaced by U+FFFD); plain literals,
// nearly all of them, are copied as they are.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // valid JSON: cannot fail
	return s
}

// isJSONInteger reports whether raw is a JSON number without fraction or
// exponent: the only numbers whose text is a Unix time.
func isJSONInteger(raw []byte) bool {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
