// Package clock provides the real clock behind application.Clock.
package clock

import "time"

// System is the wall clock.
type System struct{}

// New returns the wall clock.
func New() System { return System{} }

// Now returns the current time.
func (System) Now() time.Time { return time.Now() }
