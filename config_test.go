package phoneauth_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// TestConfigDefaults: the defaults are those docs/api.md (Configuration)
// and the README's table give.
func TestConfigDefaults(t *testing.T) {
	cfg, err := phoneauth.ParseConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTP_ADDR", cfg.HTTPAddr, ":8080"},
		{"MONGO_URI", cfg.MongoURI, ""},
		{"MONGO_DATABASE", cfg.MongoDatabase, "phoneauth"},
		{"DATA_DIR", cfg.DataDir, "./data"},
		{"SMS_PROVIDER", strings.Join(cfg.SMS.Providers, ","), "console"},
		{"SMS_CODE_TTL", cfg.SMSCodeTTL, 5 * time.Minute},
		{"SMS_RESEND_INTERVAL", cfg.SMSResendInterval, 60 * time.Second},
		{"SMS_DAILY_LIMIT_PER_PHONE", cfg.SMSDailyLimitPerPhone, 10},
		{"SMS_HOURLY_LIMIT_PER_IP", cfg.SMSHourlyLimitPerIP, 20},
		{"SMS_HOURLY_LIMIT_GLOBAL", cfg.SMSHourlyLimitGlobal, 1000},
		{"SMS_ALLOWED_COUNTRY_CODES", cfg.SMSAllowedCountryCodes.String(), "86"},
		{"CODE_MAX_ATTEMPTS", cfg.CodeMaxAttempts, 5},
		{"REGISTRATION_TTL", cfg.RegistrationTTL, 30 * time.Minute},
		{"PASSWORD_MIN_LENGTH", cfg.PasswordMinLength, 8},
		{"PASSWORD_MAX_LENGTH", cfg.PasswordMaxLength, 64},
		{"LOGIN_TIME_WINDOW", cfg.LoginTimeWindow, 300 * time.Second},
		{"LOGIN_MAX_FAILURES", cfg.LoginMaxFailures, 5},
		{"LOGIN_LOCKOUT", cfg.LoginLockout, 15 * time.Minute},
		{"LOGIN_HOURLY_LIMIT_PER_ACCOUNT", cfg.LoginHourlyLimitPerAccount, 60},
		{"FAILURES_HOURLY_PER_IP", cfg.FailuresHourlyPerIP, 50},
		{"CODE_DAILY_FAILURES_PER_PHONE", cfg.CodeDailyFailuresPerPhone, 10},
		{"CODE_HOURLY_FAILURES_GLOBAL", cfg.CodeHourlyFailuresGlobal, 2000},
		{"MEMORY_MAX_ENTRIES", cfg.MemoryMaxEntries, 1000000},
		{"TOKEN_TTL", cfg.TokenTTL, 168 * time.Hour},
		{"REFRESH_TOKEN_TTL", cfg.RefreshTokenTTL, 720 * time.Hour},
		{"REFRESH_REUSE_GRACE", cfg.RefreshReuseGrace, 10 * time.Second},
		{"TOKEN_SIGNING_KEYS", cfg.Keys.TokenSigningKeys, ""},
		{"HTTP_PATH_PREFIX", cfg.HTTPPathPrefix, ""},
		{"DEMO_PAGE", cfg.DemoPage, false},
		{"LOG_LEVEL", cfg.LogLevel.String(), "info"},
		{"SHUTDOWN_TIMEOUT", cfg.ShutdownTimeout, 15 * time.Second},
		{"REGISTRATION_BINDING", cfg.RegistrationBinding.String(), "network"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s default = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"SMS_CODE_TTL":              {"SMS_CODE_TTL": "five minutes"},
		"SMS_RESEND_INTERVAL":       {"SMS_RESEND_INTERVAL": "-1s"},
		"SMS_DAILY_LIMIT_PER_PHONE": {"SMS_DAILY_LIMIT_PER_PHONE": "ten"},
		"PASSWORD_MAX_LENGTH":       {"PASSWORD_MIN_LENGTH": "12", "PASSWORD_MAX_LENGTH": "10"},
		"TRUSTED_PROXIES":           {"TRUSTED_PROXIES": "10.0.0.0/8,not-a-cidr"},
		"SMS_ALLOWED_COUNTRY_CODES": {"SMS_ALLOWED_COUNTRY_CODES": "86,china"},
		"LOG_LEVEL":                 {"LOG_LEVEL": "loud"},
		"LOG_FORMAT":                {"LOG_FORMAT": "xml"},
		"MONGO_URI":                 {"MONGO_URI": "http://db:27017"},
		"SMS_PROVIDER":              {"SMS_PROVIDER": "carrier-pigeon"},
		"CODE_MAX_ATTEMPTS":         {"CODE_MAX_ATTEMPTS": "0"},
		"LOGIN_TIME_WINDOW":         {"LOGIN_TIME_WINDOW": "0s"},
		"REGISTRATION_BINDING":      {"REGISTRATION_BINDING": "ip"},

		"FAILURES_HOURLY_PER_IP":         {"FAILURES_HOURLY_PER_IP": "-1"},
		"CODE_DAILY_FAILURES_PER_PHONE":  {"CODE_DAILY_FAILURES_PER_PHONE": "-5"},
		"CODE_HOURLY_FAILURES_GLOBAL":    {"CODE_HOURLY_FAILURES_GLOBAL": "many"},
		"LOGIN_HOURLY_LIMIT_PER_ACCOUNT": {"LOGIN_HOURLY_LIMIT_PER_ACCOUNT": "-60"},
		"DEMO_PAGE":                      {"DEMO_PAGE": "sometimes"},
	}
	for name, vars := range cases {
		_, err := phoneauth.ParseConfig(vars)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", vars, err, name)
		}
	}
	for _, mode := range []string{"network", "token", "off"} {
		cfg, err := phoneauth.ParseConfig(map[string]string{"REGISTRATION_BINDING": mode})
		if err != nil || cfg.RegistrationBinding.String() != mode {
			t.Errorf("REGISTRATION_BINDING=%s gives %v, %v", mode, cfg.RegistrationBinding, err)
		}
	}
	for value, want := range map[string]bool{"true": true, "1": true, "false": false, "0": false} {
		cfg, err := phoneauth.ParseConfig(map[string]string{"DEMO_PAGE": value})
		if err != nil || cfg.DemoPage != want {
			t.Errorf("DEMO_PAGE=%s gives %v, %v", value, cfg.DemoPage, err)
		}
	}
	// A code lifetime over ASVS's 10 minutes is refused.
	if _, err := phoneauth.ParseConfig(map[string]string{"SMS_CODE_TTL": "11m"}); err == nil {
		t.Error("SMS_CODE_TTL=11m accepted")
	}
	// A lock that anyone can set for days is refused; a day is accepted.
	if _, err := phoneauth.ParseConfig(map[string]string{"LOGIN_LOCKOUT": "25h"}); err == nil || !strings.Contains(err.Error(), "LOGIN_LOCKOUT") {
		t.Errorf("LOGIN_LOCKOUT=25h: %v, want a refusal naming it", err)
	}
	if _, err := phoneauth.ParseConfig(map[string]string{"LOGIN_LOCKOUT": "24h"}); err != nil {
		t.Errorf("LOGIN_LOCKOUT=24h: %v", err)
	}
	// 0 switches each limit off (the benchmark does).
	off := map[string]string{"FAILURES_HOURLY_PER_IP": "0", "CODE_DAILY_FAILURES_PER_PHONE": "0", "CODE_HOURLY_FAILURES_GLOBAL": "0", "LOGIN_HOURLY_LIMIT_PER_ACCOUNT": "0"}
	if _, err := phoneauth.ParseConfig(off); err != nil {
		t.Errorf("limits switched off: %v", err)
	}
}

func TestConfigErrorsNeverEchoSecrets(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ" // too short to be a key
	_, err := phoneauth.ParseConfig(map[string]string{
		"SMS_PROVIDER": "cloopen", "CLOOPEN_AUTH_TOKEN": secret, "CLOOPEN_ACCOUNT_SID": "sid",
	})
	if err == nil {
		t.Fatal("cloopen without app id accepted")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error echoes the auth token: %v", err)
	}
}

// TestMongoModeRequiresEveryKey: instances sharing one database must share
// their keys, so with MONGO_URI set none of them may be generated; each
// missing key is named.
func TestMongoModeRequiresEveryKey(t *testing.T) {
	const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	keys := []string{"PASSWORD_KEY", "TOKEN_KEY", "CODE_HMAC_KEY", "TOKEN_SIGNING_KEYS"}
	for missing := 0; missing < 1<<len(keys); missing++ {
		vars := map[string]string{"MONGO_URI": "mongodb://db:27017"}
		var want []string
		for i, k := range keys {
			if missing&(1<<i) != 0 {
				want = append(want, k)
				if i%2 == 0 {
					vars[k] = "  " // blank counts as missing
				}
				continue
			}
			vars[k] = key
		}
		_, err := phoneauth.ParseConfig(vars)
		if len(want) == 0 {
			if err != nil {
				t.Errorf("all keys set: %v", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("MONGO_URI without %v accepted", want)
			continue
		}
		for _, k := range keys {
			named := strings.Contains(err.Error(), k)
			if named != slices.Contains(want, k) {
				t.Errorf("missing %v: error names %s: %v (%v)", want, k, named, err)
			}
		}
	}
	// The embedded store may still generate them.
	if _, err := phoneauth.ParseConfig(map[string]string{}); err != nil {
		t.Errorf("embedded mode without keys: %v", err)
	}
}

// TestCountryListNamingNoCodeIsRefused: a list of separators once meant
// "every country"; it names no code, so it is refused.
func TestCountryListNamingNoCodeIsRefused(t *testing.T) {
	for _, v := range []string{" ", " , ", ",", ",,", "+"} {
		_, err := phoneauth.ParseConfig(map[string]string{"SMS_ALLOWED_COUNTRY_CODES": v})
		if err == nil || !strings.Contains(err.Error(), "SMS_ALLOWED_COUNTRY_CODES") {
			t.Errorf("SMS_ALLOWED_COUNTRY_CODES=%q: error %v, want one naming the variable", v, err)
		}
	}
	for _, v := range []string{"86", "*", "86, 852", "+1,", " * "} {
		if _, err := phoneauth.ParseConfig(map[string]string{"SMS_ALLOWED_COUNTRY_CODES": v}); err != nil {
			t.Errorf("SMS_ALLOWED_COUNTRY_CODES=%q refused: %v", v, err)
		}
	}
}

// TestParsedListsAreRefusedInTheirOwnWords: the lists parsed at load say
// what is wrong in the words the operator has always seen, after the
// variable's name and nothing else.
func TestParsedListsAreRefusedInTheirOwnWords(t *testing.T) {
	for vars, want := range map[[2]string]string{
		{"SMS_ALLOWED_COUNTRY_CODES", " , "}:      "SMS_ALLOWED_COUNTRY_CODES: names no calling code: want calling codes such as 86,852, or * for all",
		{"SMS_ALLOWED_COUNTRY_CODES", "86,china"}: "SMS_ALLOWED_COUNTRY_CODES: want calling codes such as 86,852 or *",
		{"TRUSTED_PROXIES", "10.0.0.0/8,a:80"}:    `TRUSTED_PROXIES: "a:80" is neither a CIDR nor an address`,
	} {
		_, err := phoneauth.ParseConfig(map[string]string{vars[0]: vars[1]})
		if err == nil || err.Error() != want {
			t.Errorf("%s=%q: error %v, want %q", vars[0], vars[1], err, want)
		}
	}
}

// TestRefusedListStillLetsTheRestBeChecked: a list refused at load leaves
// nothing for the other checks to trip on, so one refusal still names every
// variable at fault.
func TestRefusedListStillLetsTheRestBeChecked(t *testing.T) {
	_, err := phoneauth.ParseConfig(map[string]string{
		"SMS_ALLOWED_COUNTRY_CODES": "86,china", "TRUSTED_PROXIES": "x", "LOG_FORMAT": "xml", "MONGO_URI": "mongodb://db:27017",
	})
	for _, name := range []string{"SMS_ALLOWED_COUNTRY_CODES", "TRUSTED_PROXIES", "LOG_FORMAT", "PASSWORD_KEY", "TOKEN_KEY", "CODE_HMAC_KEY", "TOKEN_SIGNING_KEYS"} {
		if err == nil || !strings.Contains(err.Error(), name+": ") {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

// TestSessionConfigRefusals: the session settings refuse what cannot
// work, each refusal naming its variable.
func TestSessionConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		name string
	}{
		{map[string]string{"TOKEN_TTL": "0s"}, "TOKEN_TTL"},
		{map[string]string{"TOKEN_TTL": "-1h"}, "TOKEN_TTL"},
		{map[string]string{"REFRESH_TOKEN_TTL": "0s"}, "REFRESH_TOKEN_TTL"},
		{map[string]string{"REFRESH_TOKEN_TTL": "-720h"}, "REFRESH_TOKEN_TTL"},
		{map[string]string{"REFRESH_TOKEN_TTL": "thirty days"}, "REFRESH_TOKEN_TTL"},
		{map[string]string{"REFRESH_REUSE_GRACE": "0s"}, "REFRESH_REUSE_GRACE"},
		{map[string]string{"REFRESH_REUSE_GRACE": "-10s"}, "REFRESH_REUSE_GRACE"},
		{map[string]string{"REFRESH_REUSE_GRACE": "1h", "REFRESH_TOKEN_TTL": "1h"}, "REFRESH_REUSE_GRACE"},
		{map[string]string{"REFRESH_REUSE_GRACE": "2h", "REFRESH_TOKEN_TTL": "1h"}, "REFRESH_REUSE_GRACE"},
		{map[string]string{"HTTP_PATH_PREFIX": "v1_1"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api/v1_1/"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api v1"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": " /api"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api\t"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api/:version"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api/*"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api//v1"}, "HTTP_PATH_PREFIX"},
		{map[string]string{"HTTP_PATH_PREFIX": "/api?v=1"}, "HTTP_PATH_PREFIX"},
	} {
		_, err := phoneauth.ParseConfig(c.vars)
		if err == nil || !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%v: error %v does not name %s", c.vars, err, c.name)
		}
	}
	for _, ok := range []map[string]string{
		{"HTTP_PATH_PREFIX": "/api/v1_1"}, {"HTTP_PATH_PREFIX": "/v1"}, {"HTTP_PATH_PREFIX": ""},
		{"REFRESH_REUSE_GRACE": "1ms", "REFRESH_TOKEN_TTL": "1h", "TOKEN_TTL": "15m"},
	} {
		if _, err := phoneauth.ParseConfig(ok); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
}

// TestSigningKeysAreChecked: TOKEN_SIGNING_KEYS is parsed at load, so a
// key the service cannot sign with stops it before anything starts; the
// refusal names the variable and the key's place, never a key.
func TestSigningKeysAreChecked(t *testing.T) {
	const k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	const k2 = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
	const short = "c2hvcnQtc2lnbmluZy1rZXk="
	for list, want := range map[string]string{
		k1 + "," + short:            "TOKEN_SIGNING_KEYS key 2 of 2",
		"not base64 !!":             "TOKEN_SIGNING_KEYS key 1 of 1",
		k1 + ",," + k2:              "TOKEN_SIGNING_KEYS key 2 of 3",
		k1 + "," + k2 + "," + k1:    "TOKEN_SIGNING_KEYS key 3 of 3",
		short + "," + k1 + "," + k2: "TOKEN_SIGNING_KEYS key 1 of 3",
	} {
		_, err := phoneauth.ParseConfig(map[string]string{"TOKEN_SIGNING_KEYS": list})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("TOKEN_SIGNING_KEYS=%q: error %v, want one naming %q", list, err, want)
			continue
		}
		for _, k := range []string{k1, k2, short} {
			if strings.Contains(err.Error(), k) {
				t.Errorf("TOKEN_SIGNING_KEYS=%q: the error shows a key: %v", list, err)
			}
		}
	}
	cfg, err := phoneauth.ParseConfig(map[string]string{"TOKEN_SIGNING_KEYS": k1 + ", " + k2, "MONGO_URI": "mongodb://db:27017",
		"PASSWORD_KEY": k1, "TOKEN_KEY": k1, "CODE_HMAC_KEY": k1})
	if err != nil || cfg.Keys.TokenSigningKeys != k1+", "+k2 {
		t.Fatalf("two signing keys with MONGO_URI: %v", err)
	}
}
