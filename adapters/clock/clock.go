// Package clock provides the real clock behind application.Clock.
package clock

import (
	"time"

	"github.com/google/wire"
)

// ProviderSet offers the wall clock to Wire. The injector binds it to
// application.Clock, unless it was handed another clock to use.
var ProviderSet = wire.NewSet(New)

// System is the wall clock.
type System struct{}

// New returns the wall clock.
func New() System { return System{} }

// Now returns the current time.
func (System) Now() time.Time { return time.Now() }
