// Package httpapi is the Fiber adapter: the seed's five JSON endpoints,
// their request and response structs, the single error mapper that turns
// domain and application errors into the wire contract of SPEC §2, and the
// access log. Handlers parse, call one use case, and return its error.
package httpapi
