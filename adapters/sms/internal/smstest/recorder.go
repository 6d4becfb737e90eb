package smstest

import (
	"strings"
	"sync"
)

// Recorder is a failover.AttemptObserver that keeps every attempt as
// "vendor:outcome", in order.
type Recorder struct {
	mu       sync.Mutex
	attempts []string
}

// SMSAttempt records one attempt.
func (r *Recorder) SMSAttempt(vendor, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, vendor+":"+outcome)
}

// String is the attempts so far, space-separated.
func (r *Recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.attempts, " ")
}
