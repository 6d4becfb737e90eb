// Package metrics is the Prometheus adapter: one registry per process (never
// the global default, so that tests can build several services side by side),
// the service's metrics in it, and the ways they are fed without the
// application knowing Prometheus: an observer of answered requests that
// counts answers by route, status and reason (the HTTP adapter's Observer);
// an observer of SMS send attempts (the SMS failover's AttemptObserver); and
// decorators around the storage ports that time every store operation. It
// implements the two observers by their method sets alone, and takes its
// names from the application: it imports no other adapter.
//
// Every label value comes from a fixed set written in this service (route
// templates, wire-contract reasons, vendor names, rate-limit kinds), never
// from a client: no phone number, path or header can become a time series.
package metrics

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/phoneauth/phoneauth/application"
)

const namespace = "phoneauth"

// Buckets span the measured range: a login answers in well under a
// millisecond, a durable write in a few, a slow dependency in seconds.
var (
	httpBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	storeBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// Outcome label values besides the wire contract's error reasons.
const (
	OutcomeSuccess = "success"
	// KindOther stands for a rate-limit kind this package does not know,
	// so that a new kind cannot add series unnoticed.
	KindOther = "other"
)

// rateLimitKinds are application.RateLimitedError's kinds.
var rateLimitKinds = application.LimitKinds

// The outcomes of code verifications and of logins that have a series
// from the start (see New), and that logins_total's help lists.
var (
	verificationOutcomes = []string{OutcomeSuccess,
		application.ReasonCodeMismatch, application.ReasonCodeExpired, application.ReasonTooManyAttempts, application.ReasonNoPendingRegistration}
	loginOutcomes = []string{OutcomeSuccess,
		application.ReasonWrongPassword, application.ReasonNoSuchUser, application.ReasonAccountLocked, application.ReasonReplayedRequest, application.ReasonStaleRequest}
)

// accountOutcomes are the account's recovery and changes, the operations
// account_operations_total counts, each with the outcomes that have a
// series from the start: success and the reasons an operator watches
// (guesses, probes, locks).
var accountOutcomes = map[string][]string{
	application.OpResetPasswordSend: {OutcomeSuccess, application.ReasonNoSuchUser, application.ReasonRateLimited},
	application.OpResetPassword: {OutcomeSuccess, application.ReasonCodeMismatch, application.ReasonCodeExpired,
		application.ReasonTooManyAttempts, application.ReasonNoPendingCode},
	application.OpChangePassword:  {OutcomeSuccess, application.ReasonWrongPassword, application.ReasonAccountLocked, application.ReasonReplayedRequest},
	application.OpChangePhoneSend: {OutcomeSuccess, application.ReasonWrongPassword, application.ReasonAccountLocked, application.ReasonPhoneTaken},
	application.OpChangePhone: {OutcomeSuccess, application.ReasonCodeMismatch, application.ReasonTooManyAttempts,
		application.ReasonNoPendingCode, application.ReasonPhoneTaken},
	application.OpDeleteAccount: {OutcomeSuccess, application.ReasonWrongPassword, application.ReasonAccountLocked},
}

// Metrics holds the registry and the service's metrics. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg           *prometheus.Registry
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	smsSends      *prometheus.CounterVec
	verifications *prometheus.CounterVec
	logins        *prometheus.CounterVec
	accountOps    *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
}

// ProviderSet is this adapter for Wire: New, which needs no
// configuration. The storage decorators are wired per store by the root.
var ProviderSet = wire.NewSet(New)

// New returns a fresh registry holding the service's metrics and the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template (\"unmatched\" when no route served it) and status code.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from the first middleware to the answer, by route template.",
			Buckets: httpBuckets,
		}, []string{"route"}),
		smsSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sms_sends_total",
			Help: "SMS send attempts, by vendor and outcome (sent, refused, not_sent, uncertain); a failover tries several vendors for one code.",
		}, []string{"vendor", "outcome"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "verifications_total",
			Help: "Code verifications (register step 2), by outcome: success or the answer's error reason.",
		}, []string{"outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Logins, by outcome: success or the answer's error reason (" + strings.Join(loginOutcomes[1:], ", ") + ", ...).",
		}, []string{"outcome"}),
		accountOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "account_operations_total",
			Help: "The account's recovery and changes (" + strings.Join(slices.Sorted(maps.Keys(accountOutcomes)), ", ") +
				"), by operation and outcome: success or the answer's error reason.",
		}, []string{"operation", "outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests refused by a rate limit, by kind (" + strings.Join(rateLimitKinds, ", ") + ").",
		}, []string{"kind"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_operation_duration_seconds",
			Help:    "Time of each storage port call, by store, operation and result (ok, or unavailable when the store failed).",
			Buckets: storeBuckets,
		}, []string{"store", "operation", "result"}),
	}
	m.reg.MustRegister(
		m.httpRequests, m.httpDuration, m.smsSends, m.verifications, m.logins, m.accountOps, m.rateLimited, m.storeDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Series that exist from the start, so that rate() and alerts see a
	// zero rather than nothing before the first event.
	for _, o := range verificationOutcomes {
		m.verifications.WithLabelValues(o)
	}
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for op, outcomes := range accountOutcomes {
		for _, o := range outcomes {
			m.accountOps.WithLabelValues(op, o)
		}
	}
	for _, k := range rateLimitKinds {
		m.rateLimited.WithLabelValues(k)
	}
	return m
}

// Registry is the process's registry, for tests and for registering more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// ObserveRequest counts one answered request: it is the HTTP adapter's
// Observer.
func (m *Metrics) ObserveRequest(o application.RequestOutcome) {
	m.httpRequests.WithLabelValues(o.Route, strconv.Itoa(o.Status)).Inc()
	m.httpDuration.WithLabelValues(o.Route).Observe(o.Duration.Seconds())
	outcome := o.Reason
	if outcome == "" {
		outcome = OutcomeSuccess
	}
	switch o.Operation {
	case application.OpVerifyCode:
		m.verifications.WithLabelValues(outcome).Inc()
	case application.OpLogin:
		m.logins.WithLabelValues(outcome).Inc()
	default:
		if _, ok := accountOutcomes[o.Operation]; ok {
			m.accountOps.WithLabelValues(o.Operation, outcome).Inc()
		}
	}
	if o.LimitKind != "" {
		m.rateLimited.WithLabelValues(knownKind(o.LimitKind)).Inc()
	}
}

// SMSAttempt counts one attempt to send an SMS: it is the SMS failover's
// AttemptObserver (the root wiring hands Metrics to it, which is where
// the compiler checks that it fits).
func (m *Metrics) SMSAttempt(vendor, outcome string) {
	m.smsSends.WithLabelValues(vendor, outcome).Inc()
}

func knownKind(k string) string {
	for _, known := range rateLimitKinds {
		if k == known {
			return k
		}
	}
	return KindOther
}
