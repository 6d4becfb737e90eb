package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// FerretDB v1 runs an update (and findAndModify, and a filtered delete) as
// a query followed by a separate write by _id, so two commands can both
// match a document that only one of them should have. MongoDB evaluates a
// single-document write's filter and applies it atomically, and the
// adapter under test relies on exactly that. serializer restores it the
// blunt way: it sits in front of FerretDB and lets one command at a time
// through, whatever connection it came on. Commands from one client that
// race each other still interleave between commands, so compare-and-swap
// retries are exercised; only the inside of a command is made atomic.
// No FerretDB command waits for anything while holding the lock: it has no
// awaitable hello, tailable-await cursors or exhaust replies.
type serializer struct {
	backend string
	log     *slog.Logger
	mu      sync.Mutex // held from sending a command to reading its reply
}

const (
	headerLen = 16
	// maxMessage is MongoDB's maxMessageSizeBytes plus slack; anything
	// bigger is not a message.
	maxMessage = 48_000_000 + 16*1024
	opMsg      = 2013
	// moreToCome in OP_MSG flagBits: no reply follows this request, or
	// another reply follows this one.
	moreToCome = 1 << 1
	// backendTimeout frees the lock from a FerretDB that stopped
	// answering, rather than hanging every test.
	backendTimeout = time.Minute
)

func (s *serializer) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.handle(c)
	}
}

// handle relays one client connection over its own FerretDB connection,
// so per-connection state (cursors) stays where FerretDB expects it.
func (s *serializer) handle(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("tcp", s.backend)
	if err != nil {
		s.log.Error("dial ferretdb", "err", err)
		return
	}
	defer backend.Close()
	for {
		req, err := readMessage(client)
		if err != nil {
			return // client went away, or sent garbage
		}
		reply, err := s.roundTrip(backend, req)
		if err != nil {
			s.log.Error("relay to ferretdb", "err", err)
			return
		}
		if len(reply) > 0 {
			if _, err := client.Write(reply); err != nil {
				return
			}
		}
	}
}

// roundTrip sends one request and reads every reply it gets, under the
// global lock.
func (s *serializer) roundTrip(backend net.Conn, req []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := backend.SetDeadline(time.Now().Add(backendTimeout)); err != nil {
		return nil, err
	}
	if _, err := backend.Write(req); err != nil {
		return nil, err
	}
	if hasMoreToCome(req) {
		return nil, nil
	}
	var out []byte
	for {
		reply, err := readMessage(backend)
		if err != nil {
			return nil, err
		}
		out = append(out, reply...)
		if !hasMoreToCome(reply) {
			return out, nil
		}
	}
}

// readMessage reads one length-prefixed wire-protocol message.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.LittleEndian.Uint32(hdr[:4])))
	if n < headerLen || n > maxMessage {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func hasMoreToCome(msg []byte) bool {
	if len(msg) < headerLen+4 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg {
		return false
	}
	return binary.LittleEndian.Uint32(msg[16:20])&moreToCome != 0
}
