package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errBadRequest is any body that is not the JSON object an endpoint
// expects: not JSON, a field missing, a field of the wrong JSON type
// (including operator objects such as {"$ne": null}).
var errBadRequest = errors.New("bad request")

// fieldKind says which JSON types a field accepts.
type fieldKind int

const (
	stringField fieldKind = iota
	// integerField accepts a JSON string or a JSON integer; either way the
	// handler gets its exact text, because login hashes that text.
	integerField
)

// decodeFields reads body as one JSON object and returns the named fields
// as strings, in order. Unknown fields are ignored, so clients may send
// more; keys match exactly (encoding/json's struct decoding would also
// match "PHONE_NUMBER"). Nothing but a plain Go string leaves this
// function, which is what keeps operator objects out of every query.
func decodeFields(body []byte, names []string, kinds []fieldKind) ([]string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, errBadRequest
	}
	out := make([]string, len(names))
	for i, name := range names {
		raw, ok := obj[name]
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
