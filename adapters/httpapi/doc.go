// Package httpapi is the Fiber adapter: the API's JSON endpoints as
// docs/api.md gives them, byte for byte, and the operational routes.
// Each file has one job:
//
//   - routes.go: the table of routes. Every route is registered by route,
//     which records its endpoint and whether it is public or
//     authenticated; handlers keep no books.
//   - requests.go: one named request type per endpoint, read from the
//     body by decode (decode.go, a scanner that keeps operator objects
//     and other non-strings out), and turned into its use case's command.
//   - handlers.go: decode, call one use case, write its success; a failure
//     is returned as it is.
//   - errors.go: the one error table and handleError, the one function
//     that turns an error into an answer (status, code, message, reason).
//   - auth.go: the token check of authenticated routes (the application's
//     Authenticate use case, once per request) and principalOf.
//   - middleware.go: access log, request id, panic recovery, headers;
//     encoding.go: the refusal of encoded bodies; client.go: the client's
//     address and network; observe.go: what the Observer (metrics) is
//     told; ops.go: probes, metrics, the OpenAPI document and the JWKS.
//   - demo.go: the demo page (DEMO_PAGE), its files embedded from demo/,
//     served with a policy that runs no inline script or style.
//
// Adding an endpoint is a request type, a handler, its failures' rows in
// the error table and one line in routes.go.
package httpapi
