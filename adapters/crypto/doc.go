// Package crypto holds the service's cryptography behind application
// ports: the AES-256-GCM password vault, the HMAC code hasher and the JWT
// token issuer, and the loading (or first-run generation) of their keys.
// Everything here is standard-library or golang-jwt primitives; nothing is
// invented.
package crypto
