package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// RegistrationBinding says who may continue a verified registration at
// steps 3 and 4. The zero value is BindingNetwork, the safe default.
type RegistrationBinding int

const (
	// BindingNetwork: the client that sends the registration token, or,
	// if it sends none, a client on the network that verified.
	BindingNetwork RegistrationBinding = iota
	// BindingToken: only a client that sends the registration token.
	// Clients that know nothing of the token cannot register.
	BindingToken
	// BindingOff: anyone who names the phone number, as the original
	// API did. A stranger who knows the number can take the account over
	// the moment its owner verifies.
	BindingOff
)

var bindingNames = [...]string{BindingNetwork: "network", BindingToken: "token", BindingOff: "off"}

// String returns the binding's configuration name.
func (b RegistrationBinding) String() string {
	if b < 0 || int(b) >= len(bindingNames) {
		return fmt.Sprintf("RegistrationBinding(%d)", int(b))
	}
	return bindingNames[b]
}

// MarshalText returns the configuration name.
func (b RegistrationBinding) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText accepts network, token or off.
func (b *RegistrationBinding) UnmarshalText(text []byte) error {
	for i, name := range bindingNames {
		if string(text) == name {
			*b = RegistrationBinding(i)
			return nil
		}
	}
	return fmt.Errorf("%q: want network, token or off", text)
}

// RegistrationClient is the client asking to verify or to continue a
// registration, as far as the server can tell it apart from others.
type RegistrationClient struct {
	// Token is the registration token the client sent; empty if none.
	// At step 2 it is the token the server is about to hand out.
	Token string
	// Net is the client's network key (an IPv4 address or an IPv6 /64).
	Net string
}

// hashRegistrationToken is what is stored of a token: its SHA-256. The
// token carries 256 random bits, so an unkeyed hash reveals nothing.
func hashRegistrationToken(token string) []byte {
	if token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// mayContinue reports whether by may continue the verified registration
// p under binding. A token, when sent, is judged alone: a wrong one is
// refused even from the network that verified.
func (p *PendingRegistration) mayContinue(by RegistrationClient, binding RegistrationBinding) bool {
	if binding == BindingOff {
		return true
	}
	if by.Token != "" {
		sent := hashRegistrationToken(by.Token)
		return len(p.tokenHash) == len(sent) && subtle.ConstantTimeCompare(p.tokenHash, sent) == 1
	}
	return binding == BindingNetwork && p.clientNet != "" && by.Net == p.clientNet
}
