// Package domain holds what a phone account is: value objects that cannot be
// wrong once parsed (PhoneNumber, Email), the password policy, and the
// entities PendingRegistration and User that guard their own rules. It
// imports only the standard library and a phone-number library, and never logs.
package domain
