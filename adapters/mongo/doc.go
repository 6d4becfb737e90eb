// Package mongo keeps the service's shared state in MongoDB, so that any
// number of stateless service instances can serve the same accounts:
// accounts, pending registrations, pending codes, sessions, rate-limit
// counters, login lockouts and login nonces.
//
// Every invariant is a single-document atomic operation or a unique index;
// nothing reads and then writes on a guess, and nothing needs a
// multi-document transaction: a phone change is one update of the account
// document under a unique index on phone, and an account's deletion,
// which spans collections, is ordered so that a crash part way leaves the
// account whole (Users.Delete). That keeps the adapter correct on a sharded
// cluster (each document is addressed by its _id, the natural shard key)
// and on FerretDB, which the integration tests run against and which has
// no transactions and no TTL indexes.
//
// Records that expire carry expires_at and every read checks it itself;
// TTL indexes, where the server has them, and the application's sweeper
// (Store.DeleteExpired) only reclaim space.
package mongo
