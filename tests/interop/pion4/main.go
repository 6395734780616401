// pion4-peer: a pion/dtls v4 client or server for cdtls's interop tests
// (tests/test_interop_pion4.c). pion/dtls v4 speaks DTLS 1.3 and 1.2 and
// offers the post-quantum hybrid group X25519MLKEM768, whose 1,216-byte key
// share makes a ClientHello of ~1.4 KB: above the MTU, it goes out in two or
// more handshake fragments (RFC 6347 §4.2.3), the case of cdtls issue 14.
// It prints what it negotiated, one "pion: key=value" line each:
//
//	pion: listening                                (server, ready)
//	pion: client_hello bytes=1414 shares=0x11EC,0x001D
//	                                               (client: the body of each
//	                                               ClientHello it builds, to
//	                                               show it is over the MTU,
//	                                               and its key share groups)
//	pion: server_hello group=0x11EC                (the DTLS 1.3 ServerHello's
//	                                               key_share group: the server
//	                                               as it builds it, the client
//	                                               as it reads it off the wire)
//	pion: handshake ok version=1.2 suite=0xC02B    (DTLS version, suite)
//	pion: recv=<text>                              (a record received; the
//	                                               server echoes it)
//	pion: done
//
// Exit status 0 when the session ran as asked, 1 otherwise (with
// "pion: error ..." on stdout).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/crypto/elliptic"
	"github.com/pion/dtls/v4/pkg/protocol"
	"github.com/pion/dtls/v4/pkg/protocol/extension"
	"github.com/pion/dtls/v4/pkg/protocol/handshake"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("pion: error "+format+"\n", args...)
	os.Exit(1)
}

func curveByName(name string) elliptic.Curve {
	for c := range elliptic.Curves() {
		if c.String() == name {
			return c
		}
	}
	fail("unknown curve %s", name)
	return 0
}

func versionByName(name string) protocol.Version {
	switch name {
	case "1.2":
		return protocol.Version1_2
	case "1.3":
		return protocol.Version1_3
	}
	fail("unknown version %s", name)
	return 0
}

func versionName(v protocol.Version) string {
	switch v {
	case protocol.Version1_2:
		return "1.2"
	case protocol.Version1_3:
		return "1.3"
	}
	return fmt.Sprintf("0x%04x", uint16(v))
}

func main() {
	role := flag.String("role", "client", "client or server")
	addr := flag.String("addr", "127.0.0.1:4444", "server: listen address; client: server address")
	curves := flag.String("curves", "", "groups in preference order, comma-separated (pion's names: X25519MLKEM768,X25519,P-256,P-384); empty = pion's defaults")
	mtu := flag.Int("mtu", 0, "handshake fragmentation size (pion's default 1200 when 0)")
	minVersion := flag.String("min", "", "lowest DTLS version: 1.2 or 1.3 (pion's default 1.2)")
	maxVersion := flag.String("max", "", "highest DTLS version: 1.2 or 1.3 (pion's default 1.3)")
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM private key")
	insecure := flag.Bool("insecure", false, "client: skip server certificate verification")
	pskHex := flag.String("psk", "", "DTLS 1.2 pre-shared key (hex), with -identity")
	identity := flag.String("identity", "cdtls", "PSK identity")
	suites := flag.String("suites", "", "cipher suite names (pion's String()), comma-separated; empty = pion's defaults")
	message := flag.String("message", "", "client: send this and expect it back")
	timeout := flag.Duration("timeout", 10*time.Second, "overall time limit")
	// Issue 16 (DTLS 1.3 interop): the flags below are additions; without
	// them pion4-peer behaves as before.
	caFile := flag.String("ca", "", "client: PEM root certificates to verify the server against (instead of -insecure)")
	serverName := flag.String("servername", "", "client: SNI and the name the server certificate must carry")
	keyLog := flag.String("keylog", "", "append NSS key log lines (CLIENT_RANDOM, the 1.3 traffic secrets) to this file")
	noCookie := flag.Bool("no-cookie", false, "server: no HelloVerifyRequest / cookie HelloRetryRequest before the handshake")
	conns := flag.Int("conns", 1, "connections in a row sharing one session store (resumption, resume.go)")
	flag.Parse()

	opts := srtpOptions() // -alpn, -srtp (srtp.go)
	opts = append(opts, cidOptions()...) // cid.go
	opts = append(opts, rrcOptions()...) // rrc.go: -rrc-cid, RFC 9853
	if *curves != "" {
		var cs []elliptic.Curve
		for _, n := range strings.Split(*curves, ",") {
			cs = append(cs, curveByName(n))
		}
		opts = append(opts, dtls.WithEllipticCurves(cs...))
	}
	if *mtu > 0 {
		opts = append(opts, dtls.WithMTU(*mtu))
	}
	if *minVersion != "" {
		opts = append(opts, dtls.WithMinVersion(versionByName(*minVersion)))
	}
	if *maxVersion != "" {
		opts = append(opts, dtls.WithMaxVersion(versionByName(*maxVersion)))
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail("loading -cert/-key: %v", err)
		}
		opts = append(opts, dtls.WithCertificates(cert))
	}
	if *insecure {
		opts = append(opts, dtls.WithInsecureSkipVerify(true))
	}
	if *pskHex != "" {
		key, err := hex.DecodeString(*pskHex)
		if err != nil {
			fail("bad -psk: %v", err)
		}
		psk := dtls.PSK{Identity: []byte(*identity), Key: key}
		opts = append(opts, dtls.WithPSK(
			func() ([]dtls.PSK, error) { return []dtls.PSK{psk}, nil },
			func([][]byte) (*dtls.PSK, error) { return &psk, nil }))
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail("reading -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in -ca %s", *caFile)
		}
		opts = append(opts, dtls.WithRootCAs(pool))
	}
	if *serverName != "" {
		opts = append(opts, dtls.WithServerName(*serverName))
	}
	if *keyLog != "" {
		f, err := os.OpenFile(*keyLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fail("opening -keylog: %v", err)
		}
		defer f.Close()
		opts = append(opts, dtls.WithKeyLogWriter(f))
	}
	if *suites != "" {
		var ids []ciphersuite.ID
		for _, n := range strings.Split(*suites, ",") {
			id, ok := suiteByName(n)
			if !ok {
				fail("unknown suite %s", n)
			}
			ids = append(ids, id)
		}
		opts = append(opts, dtls.WithCipherSuites(ids...))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	udpAddr, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fail("bad -addr: %v", err)
	}
	if *conns > 1 {
		runResume(ctx, *role, udpAddr, opts, *message, *timeout, *conns)
		return
	}

	if *role == "server" {
		sopts := make([]dtls.ServerOption, len(opts))
		for i, o := range opts {
			sopts[i] = o
		}
		if *noCookie {
			sopts = append(sopts, dtls.WithInsecureSkipVerifyHello(true))
		}
		sopts = append(sopts, dtls.WithServerHelloMessageHook(func(m handshake.MessageServerHello) handshake.Message {
			for _, e := range m.Extensions {
				if e.ExtensionType() != extension.TypeKeyShare {
					continue
				}
				if d, err := e.MarshalData(); err == nil && len(d) >= 2 {
					fmt.Printf("pion: server_hello group=0x%04X\n", uint16(d[0])<<8|uint16(d[1]))
				}
			}
			return &m
		}))
		ln, err := dtls.ListenAddr("udp", udpAddr, sopts...)
		if err != nil {
			fail("listen: %v", err)
		}
		defer ln.Close()
		fmt.Println("pion: listening")
		go func() { <-ctx.Done(); ln.Close() }()
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		session(ctx, c.(*dtls.Conn), *role, *message, *timeout)
	} else {
		copts := make([]dtls.ClientOption, len(opts))
		for i, o := range opts {
			copts[i] = o
		}
		copts = append(copts, dtls.WithClientHelloMessageHook(func(m handshake.MessageClientHello) handshake.Message {
			fmt.Printf("pion: client_hello bytes=%d shares=%s\n", m.MarshalSize(), clientShareGroups(m.Extensions))
			return &m
		}))
		pconn, err := net.ListenUDP("udp", nil)
		if err != nil {
			fail("listen: %v", err)
		}
		conn, err := dtls.Client(&sniffConn{pconn}, udpAddr, copts...)
		if err != nil {
			fail("dial: %v", err)
		}
		session(ctx, conn, *role, *message, *timeout)
	}
	fmt.Println("pion: done")
}

func suiteByName(name string) (ciphersuite.ID, bool) {
	for _, id := range []ciphersuite.ID{
		ciphersuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		ciphersuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		ciphersuite.TLS_PSK_WITH_AES_128_CCM_8,
		ciphersuite.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
		ciphersuite.TLS_AES_128_GCM_SHA256,
		ciphersuite.TLS_CHACHA20_POLY1305_SHA256,
		ciphersuite.TLS_AES_256_GCM_SHA384,
	} {
		if id.String() == name {
			return id, true
		}
	}
	return 0, false
}

// session runs one connection: handshake, report, echo.
func session(ctx context.Context, conn *dtls.Conn, role, message string, timeout time.Duration) {
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		fail("handshake: %v", err)
	}
	state, ok := conn.ConnectionState()
	if !ok {
		fail("no connection state")
	}
	fmt.Printf("pion: handshake ok version=%s suite=0x%04X\n", versionName(state.NegotiatedVersion()), uint16(state.CipherSuiteID))
	reportSRTP(conn, state) // -alpn, -srtp, -export (srtp.go)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	if role == "server" {
		for i := 0; i < *echoes; i++ { // cid.go
			n, err := conn.Read(buf)
			if err != nil {
				fail("read: %v", err)
			}
			fmt.Printf("pion: recv=%s\n", buf[:n])
			if _, err := conn.Write(buf[:n]); err != nil {
				fail("write: %v", err)
			}
		}
		// Let the echo leave before close_notify.
		time.Sleep(200 * time.Millisecond)
		rrcReport(conn)
	} else if message != "" {
		if _, err := conn.Write([]byte(message)); err != nil {
			fail("write: %v", err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			fail("read: %v", err)
		}
		fmt.Printf("pion: recv=%s\n", buf[:n])
		migrateAndEcho(conn, message) // cid.go
	}
}

// clientShareGroups lists the key share groups of a ClientHello ("-" none).
func clientShareGroups(exts []extension.Value) string {
	var out []string
	for _, e := range exts {
		if e.ExtensionType() != extension.TypeKeyShare {
			continue
		}
		d, err := e.MarshalData()
		if err != nil || len(d) < 2 {
			continue
		}
		d = d[2:] // client_shares<0..2^16-1>
		for len(d) >= 4 {
			n := int(d[2])<<8 | int(d[3])
			out = append(out, fmt.Sprintf("0x%04X", uint16(d[0])<<8|uint16(d[1])))
			if len(d) < 4+n {
				break
			}
			d = d[4+n:]
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

// sniffConn reports the key_share group of the DTLS 1.3 ServerHello the
// client receives: pion keeps the negotiated group to itself, so it is read
// off the wire, from the plaintext epoch-0 record carrying the ServerHello's
// first fragment (the key_share extension comes early in the body).
type sniffConn struct {
	*net.UDPConn
}

var hrrRandom = []byte{0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C}

func (s *sniffConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := s.UDPConn.ReadFrom(p)
	if err == nil {
		sniffServerHello(p[:n])
	}
	return n, a, err
}

func sniffServerHello(d []byte) {
	for len(d) >= 13 && d[0]&0xE0 != 0x20 { // plaintext records until a 1.3 unified header
		rlen := int(d[11])<<8 | int(d[12])
		if len(d) < 13+rlen {
			return
		}
		r := d[13 : 13+rlen]
		epoch0 := d[3] == 0 && d[4] == 0
		d = d[13+rlen:]
		// a handshake record whose first message is a ServerHello's first fragment
		if !epoch0 || len(r) < 12 || r[0] != 2 || r[6] != 0 || r[7] != 0 || r[8] != 0 {
			continue
		}
		b := r[12:]
		if len(b) < 35 {
			continue
		}
		hrr := string(b[2:34]) == string(hrrRandom)
		q := 34
		q += 1 + int(b[q]) // session id
		q += 3             // suite, compression
		if len(b) < q+2 {
			continue
		}
		q += 2 // extensions length
		for q+4 <= len(b) {
			t := int(b[q])<<8 | int(b[q+1])
			l := int(b[q+2])<<8 | int(b[q+3])
			if t == int(extension.TypeKeyShare) && q+6 <= len(b) {
				g := uint16(b[q+4])<<8 | uint16(b[q+5])
				if hrr {
					fmt.Printf("pion: hello_retry_request group=0x%04X\n", g)
				} else {
					fmt.Printf("pion: server_hello group=0x%04X\n", g)
				}
				break
			}
			q += 4 + l
		}
	}
}
