// pion-peer: a pion/dtls v3 client or server for cdtls's interop tests
// (tests/test_interop_pion.c). It prints what it negotiated, one
// "pion: key=value" line each, so the C side can compare:
//
//	pion: listening            (server, ready)
//	pion: handshake ok suite=0xC0A8
//	pion: alpn=webrtc
//	pion: srtp=0x0001
//	pion: export=<HEX>         (-export LABEL:LEN, no context)
//	pion: recv=<text>          (a record received; the server echoes it, and
//	                           adds " from=<address>")
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
	"strconv"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("pion: error "+format+"\n", args...)
	os.Exit(1)
}

func suiteByName(name string) dtls.CipherSuiteID {
	for _, id := range []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_PSK_WITH_AES_128_CCM, dtls.TLS_PSK_WITH_AES_128_CCM_8, dtls.TLS_PSK_WITH_AES_256_CCM_8,
		dtls.TLS_PSK_WITH_AES_128_GCM_SHA256, dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
		dtls.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		dtls.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	} {
		if id.String() == name {
			return id
		}
	}
	fail("unknown suite %s", name)
	return 0
}

func srtpByName(name string) dtls.SRTPProtectionProfile {
	switch name {
	case "SRTP_AES128_CM_HMAC_SHA1_80":
		return dtls.SRTP_AES128_CM_HMAC_SHA1_80
	case "SRTP_AES128_CM_HMAC_SHA1_32":
		return dtls.SRTP_AES128_CM_HMAC_SHA1_32
	case "SRTP_AEAD_AES_128_GCM":
		return dtls.SRTP_AEAD_AES_128_GCM
	case "SRTP_AEAD_AES_256_GCM":
		return dtls.SRTP_AEAD_AES_256_GCM
	}
	fail("unknown SRTP profile %s", name)
	return 0
}

func clientAuthByName(name string) dtls.ClientAuthType {
	switch name {
	case "none":
		return dtls.NoClientCert
	case "request":
		return dtls.RequestClientCert
	case "require":
		return dtls.RequireAnyClientCert
	case "verify-if-given":
		return dtls.VerifyClientCertIfGiven
	case "require-and-verify":
		return dtls.RequireAndVerifyClientCert
	}
	fail("unknown client auth %s", name)
	return 0
}

func main() {
	role := flag.String("role", "client", "client or server")
	addr := flag.String("addr", "127.0.0.1:4444", "server: listen address; client: server address")
	pskHex := flag.String("psk", "", "pre-shared key (hex)")
	identity := flag.String("identity", "cdtls", "PSK identity (client) / hint (server)")
	suite := flag.String("suite", "", "cipher suite name (pion's String())")
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM private key")
	caFile := flag.String("ca", "", "PEM trust anchors (server certificate, or client certificates)")
	serverName := flag.String("servername", "", "client: SNI and expected name")
	insecure := flag.Bool("insecure", false, "client: skip server certificate verification")
	clientAuth := flag.String("clientauth", "none", "server: none, request, require, verify-if-given, require-and-verify")
	alpn := flag.String("alpn", "", "ALPN protocols, comma-separated")
	srtp := flag.String("srtp", "", "SRTP profiles, comma-separated")
	mkiHex := flag.String("mki", "", "client: SRTP MKI (hex)")
	export := flag.String("export", "", "LABEL:LEN to export after the handshake")
	message := flag.String("message", "", "client: send this and expect it back")
	cidLen := flag.Int("cid", -1, "connection ID length to ask for (RFC 9146; 0 = send only; -1 = no CID)")
	count := flag.Int("count", 1, "server: how many records to echo")
	timeout := flag.Duration("timeout", 10*time.Second, "overall time limit")
	sessions := flag.Int("sessions", 1, "connections one after another, sharing an in-memory session store (resumption)")
	flag.Parse()

	cfg := &dtls.Config{ExtendedMasterSecret: dtls.RequireExtendedMasterSecret}
	if *pskHex != "" {
		psk, err := hex.DecodeString(*pskHex)
		if err != nil {
			fail("bad -psk: %v", err)
		}
		cfg.PSK = func([]byte) ([]byte, error) { return psk, nil }
		cfg.PSKIdentityHint = []byte(*identity)
	}
	if *suite != "" {
		cfg.CipherSuites = []dtls.CipherSuiteID{suiteByName(*suite)}
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail("loading -cert/-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail("reading -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificates in %s", *caFile)
		}
		cfg.RootCAs = pool
		cfg.ClientCAs = pool
	}
	cfg.ServerName = *serverName
	cfg.InsecureSkipVerify = *insecure
	cfg.ClientAuth = clientAuthByName(*clientAuth)
	if *alpn != "" {
		cfg.SupportedProtocols = strings.Split(*alpn, ",")
	}
	if *srtp != "" {
		for _, n := range strings.Split(*srtp, ",") {
			cfg.SRTPProtectionProfiles = append(cfg.SRTPProtectionProfiles, srtpByName(n))
		}
	}
	if *mkiHex != "" {
		mki, err := hex.DecodeString(*mkiHex)
		if err != nil {
			fail("bad -mki: %v", err)
		}
		cfg.SRTPMasterKeyIdentifier = mki
	}

	if *cidLen == 0 {
		cfg.ConnectionIDGenerator = dtls.OnlySendCIDGenerator()
	} else if *cidLen > 0 {
		cfg.ConnectionIDGenerator = dtls.RandomCIDGenerator(*cidLen)
	}

	if *sessions > 1 {
		cfg.SessionStore = &memStore{m: map[string]dtls.Session{}}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	udpAddr, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fail("bad -addr: %v", err)
	}

	if *role == "server" {
		ln, err := dtls.Listen("udp", udpAddr, cfg)
		if err != nil {
			fail("listen: %v", err)
		}
		defer ln.Close()
		fmt.Println("pion: listening")
		go func() { <-ctx.Done(); ln.Close() }()
		for i := 0; i < *sessions; i++ {
			c, err := ln.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			session(ctx, c.(*dtls.Conn), *role, *export, *message, *count, *timeout)
		}
	} else {
		for i := 0; i < *sessions; i++ {
			conn, err := dtls.Dial("udp", udpAddr, cfg)
			if err != nil {
				fail("dial: %v", err)
			}
			session(ctx, conn, *role, *export, *message, *count, *timeout)
		}
	}
	fmt.Println("pion: done")
}

// memStore: pion's SessionStore in memory (client: by server name or
// address; server: by session ID), for -sessions.
type memStore struct{ m map[string]dtls.Session }

func (s *memStore) Set(key []byte, v dtls.Session) error { s.m[string(key)] = v; return nil }
func (s *memStore) Get(key []byte) (dtls.Session, error) { return s.m[string(key)], nil }
func (s *memStore) Del(key []byte) error                 { delete(s.m, string(key)); return nil }

// session runs one connection: handshake, report, echo.
func session(ctx context.Context, conn *dtls.Conn, role, export, message string, count int, timeout time.Duration) {
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		fail("handshake: %v", err)
	}
	state, ok := conn.ConnectionState()
	if !ok {
		fail("no connection state")
	}
	fmt.Printf("pion: handshake ok suite=0x%04X\n", uint16(state.CipherSuiteID))
	if state.NegotiatedProtocol != "" {
		fmt.Printf("pion: alpn=%s\n", state.NegotiatedProtocol)
	}
	if p, ok := conn.SelectedSRTPProtectionProfile(); ok {
		fmt.Printf("pion: srtp=0x%04X\n", uint16(p))
	}
	if export != "" {
		i := strings.LastIndex(export, ":")
		n, err := strconv.Atoi((export)[i+1:])
		if i < 0 || err != nil {
			fail("bad -export %s", export)
		}
		km, err := state.ExportKeyingMaterial((export)[:i], nil, n)
		if err != nil {
			fail("export: %v", err)
		}
		fmt.Printf("pion: export=%X\n", km)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	if role == "server" {
		for i := 0; i < count; i++ {
			n, err := conn.Read(buf)
			if err != nil {
				fail("read: %v", err)
			}
			fmt.Printf("pion: recv=%s from=%s\n", buf[:n], conn.RemoteAddr())
			if _, err := conn.Write(buf[:n]); err != nil {
				fail("write: %v", err)
			}
		}
		// Let the echo leave before close_notify.
		time.Sleep(200 * time.Millisecond)
	} else if message != "" {
		if _, err := conn.Write([]byte(message)); err != nil {
			fail("write: %v", err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			fail("read: %v", err)
		}
		fmt.Printf("pion: recv=%s\n", buf[:n])
	}
}
