// Package crypto holds the service's cryptography behind application
// ports: the AES-256-GCM password vault, the HMAC code hasher, the
// session tokens (EdDSA access JWTs that any service verifies with the
// JWKS, and HMAC-authenticated refresh tokens), and the loading (or
// first-run generation) of their keys.
// Everything here is standard-library, golang-jwt primitives or a
// standard: the only format of our own is the refresh token's, which no
// one but this service reads.
package crypto
