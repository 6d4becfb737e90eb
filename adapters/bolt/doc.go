// Package bolt is the embedded, durable store of the single-node mode:
// users, pending registrations, pending codes and sessions in one
// go.etcd.io/bbolt file under DATA_DIR, so that a fresh machine needs
// nothing else to run the service.
//
// Documents are JSON in seven buckets: users under their E.164 number, two
// indexes of them (email -> number, which lets Create check both
// uniqueness rules in the same write transaction, and user id -> number,
// which every authenticated request reads), pending registrations under
// their number, codes of the other purposes under their subject's key,
// sessions under their id, and an index of sessions by account (account
// id, a zero byte, session id), which lets an account's deletion find its
// sessions. A change of number moves the user to its new key, repoints
// both indexes and drops the old number's reset code, in one
// transaction; a deletion removes the account and every record of it in
// one (what a write racing it records after it is described at
// Users.Delete). Every write is fsynced
// before it returns: an acknowledged answer survives kill -9. Concurrent
// writes share commits (groupCommit), which may run a write's function
// more than once; each function therefore recomputes everything it
// reports on every run.
//
// Failures of the file or of bbolt wrap application.ErrUnavailable.
package bolt
