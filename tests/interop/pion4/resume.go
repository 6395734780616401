// DTLS 1.3 session resumption against cdtls (issue 17): -conns N runs N
// connections one after another sharing one pion SessionStore, so the
// second resumes with the ticket of the first (pion issues and takes
// tickets when a SessionStore is configured). Per connection pion prints
//
//	pion: conn=<i> psk=<0|1>        the ServerHello selected a PSK (pre_shared_key)
//	pion: store set ticket=<0|1>     a session went into pion's store (a 1.3 ticket)
//
// read off pion's own ServerHello (server: the hook; client: the wire).
package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/protocol/extension"
	"github.com/pion/dtls/v4/pkg/protocol/handshake"
)

// memStore is pion's SessionStore in memory, reporting what it keeps.
type memStore struct {
	mu sync.Mutex
	m  map[string]dtls.Session
}

func (s *memStore) Set(key []byte, sess dtls.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = sess
	t := 0
	if sess.Ticket != nil {
		t = 1
	}
	fmt.Printf("pion: store set ticket=%d\n", t)
	return nil
}

func (s *memStore) Get(key []byte) (dtls.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[string(key)], nil
}

func (s *memStore) Del(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(key))
	return nil
}

var pskSelected = make(chan bool, 16)

func serverHelloPSK(m handshake.MessageServerHello) handshake.Message {
	if r := m.Random.MarshalFixed(); string(r[:]) == string(hrrRandom) {
		return &m // a HelloRetryRequest: the ServerHello comes later
	}
	psk := false
	for _, e := range m.Extensions {
		if e.ExtensionType() == extension.TypePreSharedKey {
			psk = true
		}
		if e.ExtensionType() == extension.TypeKeyShare {
			if d, err := e.MarshalData(); err == nil && len(d) >= 2 {
				fmt.Printf("pion: server_hello group=0x%04X\n", uint16(d[0])<<8|uint16(d[1]))
			}
		}
	}
	select {
	case pskSelected <- psk:
	default:
	}
	return &m
}

// resumeSniff reads pre_shared_key off the ServerHello pion receives.
type resumeSniff struct {
	*net.UDPConn
}

func (s *resumeSniff) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := s.UDPConn.ReadFrom(p)
	if err == nil {
		sniffServerHello(p[:n])
		if psk, ok := serverHelloHasPSK(p[:n]); ok {
			select {
			case pskSelected <- psk:
			default:
			}
		}
	}
	return n, a, err
}

// serverHelloHasPSK: (has pre_shared_key, is a whole ServerHello that is not a HelloRetryRequest).
func serverHelloHasPSK(d []byte) (bool, bool) {
	for len(d) >= 13 && d[0]&0xE0 != 0x20 {
		rlen := int(d[11])<<8 | int(d[12])
		if len(d) < 13+rlen {
			return false, false
		}
		r := d[13 : 13+rlen]
		d = d[13+rlen:]
		if len(r) < 12 || r[0] != 2 || r[6] != 0 || r[7] != 0 || r[8] != 0 {
			continue
		}
		b := r[12:]
		if len(b) < 35 || string(b[2:34]) == string(hrrRandom) {
			continue
		}
		q := 34
		q += 1 + int(b[q])
		q += 3 + 2
		psk := false
		for q+4 <= len(b) {
			t := int(b[q])<<8 | int(b[q+1])
			l := int(b[q+2])<<8 | int(b[q+3])
			if t == int(extension.TypePreSharedKey) {
				psk = true
			}
			q += 4 + l
		}
		return psk, true
	}
	return false, false
}

func reportPSK(i int) {
	select {
	case psk := <-pskSelected:
		v := 0
		if psk {
			v = 1
		}
		fmt.Printf("pion: conn=%d psk=%d\n", i, v)
	case <-time.After(time.Second):
		fmt.Printf("pion: conn=%d psk=?\n", i)
	}
}

// runResume runs conns connections in a row (server: accepted on one
// listener; client: dialled from fresh sockets), one store for all.
func runResume(ctx context.Context, role string, udpAddr *net.UDPAddr, opts []dtls.Option, message string,
	timeout time.Duration, conns int) {
	store := &memStore{m: map[string]dtls.Session{}}
	opts = append(opts, dtls.WithSessionStore(store))
	if role == "server" {
		sopts := make([]dtls.ServerOption, 0, len(opts)+1)
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		sopts = append(sopts, dtls.WithServerHelloMessageHook(serverHelloPSK))
		ln, err := dtls.ListenAddr("udp", udpAddr, sopts...)
		if err != nil {
			fail("listen: %v", err)
		}
		defer ln.Close()
		fmt.Println("pion: listening")
		go func() { <-ctx.Done(); ln.Close() }()
		for i := 1; i <= conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			session(ctx, c.(*dtls.Conn), role, message, timeout)
			reportPSK(i)
		}
	} else {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		for i := 1; i <= conns; i++ {
			pconn, err := net.ListenUDP("udp", nil)
			if err != nil {
				fail("listen: %v", err)
			}
			conn, err := dtls.Client(&resumeSniff{pconn}, udpAddr, copts...)
			if err != nil {
				fail("dial: %v", err)
			}
			session(ctx, conn, role, message, timeout)
			// the ticket comes after the handshake: give it time to land
			time.Sleep(300 * time.Millisecond)
			reportPSK(i)
			pconn.Close()
		}
	}
	fmt.Println("pion: done")
}
