// pion4-bench: cdtls_bench.c's hs13 workload (full DTLS 1.3 handshakes,
// RFC 9147) against pion/dtls v4 (pinned in go.mod, the version
// tests/interop/pion4 uses; bench/pion stays on v3 for the 1.2 workloads),
// for the ratios in docs/benchmarks.md.
//
// As bench/pion: GOMAXPROCS=1 (client and server share one core, as the C
// program runs both ends in one thread), rates per CPU second of the whole
// process (getrusage, garbage collection included), two fresh loopback
// sockets per handshake. Same settings as cdtls_bench.c's hs13: DTLS 1.3
// only on both sides, TLS_CHACHA20_POLY1305_SHA256 with the server's Ed25519
// certificate and TLS_AES_128_GCM_SHA256 with ECDSA P-256 (scripts/bench.sh
// makes them), checked against the root with the name bench.example (the
// Ed25519 chain by crypto/x509 through pion's VerifyPeerCertificate hook,
// see options), the cookie HelloRetryRequest on (pion's default),
// MTU 1500, one group: X25519 or X25519MLKEM768. Each warm-up handshake
// checks the version and the group the server put in its ServerHello.
// After each suite's full rows, "<suite> resumed": the same handshake
// resuming by a 1.3 session ticket (pion's SessionStore on both sides), each
// one checked to resume, as cdtls_bench.c's resumed hs13 rows.
//
//	pion4-bench [-quick] [-only hs13|tput13] [-certs DIR] [-suite NAME]
//
// tput13: one DTLS 1.3 connection (X25519) streaming 1200-byte records in
// windows of 32, as bench/pion's tput1200 and cdtls_bench.c's tput13.
//
// Results are JSON lines, as bench_common.h prints them.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/crypto/elliptic"
	"github.com/pion/dtls/v4/pkg/protocol"
	"github.com/pion/dtls/v4/pkg/protocol/extension"
	"github.com/pion/dtls/v4/pkg/protocol/handshake"
)

const impl = "pion-dtls-v4.0.1"

var (
	quick     = flag.Bool("quick", false, "short runs")
	only      = flag.String("only", "", "one workload (hs13, tput13)")
	certsDir  = flag.String("certs", "zig-out/bench/certs", "certificates made by scripts/bench.sh")
	onlySuite = flag.String("suite", "", "only this suite")
)

func result(workload, suite, metric string, value float64) {
	b, _ := json.Marshal(map[string]any{"impl": impl, "workload": workload, "suite": suite, "metric": metric, "value": value})
	fmt.Println(string(b))
}

func notMeasured(workload, suite, why string) {
	b, _ := json.Marshal(map[string]any{"impl": impl, "workload": workload, "suite": suite, "metric": "not_measured", "why": why})
	fmt.Println(string(b))
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

// the group the server last put in its ServerHello's key_share, and
// whether that ServerHello selected a pre_shared_key (a resumption); the
// HelloRetryRequest comes through the hook first, the ServerHello after it
var serverGroup, serverPSK atomic.Uint32

func options(curve elliptic.Curve, suite ciphersuite.ID, cert string) ([]dtls.ClientOption, []dtls.ServerOption, error) {
	leaf, err := tls.LoadX509KeyPair(*certsDir+"/"+cert+"-leaf.pem", *certsDir+"/"+cert+"-leaf.key")
	if err != nil {
		return nil, nil, err
	}
	rootPEM, err := os.ReadFile(*certsDir + "/" + cert + "-root.pem")
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, nil, errors.New("bad root")
	}
	scheme := tls.ECDSAWithP256AndSHA256
	if cert == "ed25519" {
		scheme = tls.Ed25519
	}
	common := []dtls.Option{
		dtls.WithCipherSuites(suite),
		dtls.WithEllipticCurves(curve),
		dtls.WithSignatureSchemes(scheme),
		dtls.WithMTU(1500),
		dtls.WithMinVersion(protocol.Version1_3),
		dtls.WithMaxVersion(protocol.Version1_3),
	}
	var copts []dtls.ClientOption
	var sopts []dtls.ServerOption
	for _, o := range common {
		copts = append(copts, o)
		sopts = append(sopts, o)
	}
	// pion v4.0.1, as v3.1.15 (bench/pion), refuses an Ed25519-signed chain
	// in its signature algorithm check ("certificate uses a signature
	// algorithm that is not allowed"). The same verification, done through
	// its documented hook: crypto/x509 against the root, with the name.
	if cert == "ed25519" {
		copts = append(copts, dtls.WithServerName("bench.example"),
			dtls.WithCertificateSignatureSchemes(tls.Ed25519),
			dtls.WithInsecureSkipVerify(true),
			dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("no certificate")
				}
				leaf, err := x509.ParseCertificate(raw[0])
				if err != nil {
					return err
				}
				_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "bench.example"})
				return err
			}))
	} else {
		copts = append(copts, dtls.WithServerName("bench.example"), dtls.WithRootCAs(pool))
	}
	sopts = append(sopts, dtls.WithCertificates(leaf),
		dtls.WithServerHelloMessageHook(func(m handshake.MessageServerHello) handshake.Message {
			psk := uint32(0)
			for _, e := range m.Extensions {
				if e.ExtensionType() == extension.TypePreSharedKey {
					psk = 1
				}
				if e.ExtensionType() != extension.TypeKeyShare {
					continue
				}
				if d, err := e.MarshalData(); err == nil && len(d) >= 2 {
					serverGroup.Store(uint32(d[0])<<8 | uint32(d[1]))
				}
			}
			serverPSK.Store(psk)
			return &m
		}))
	return copts, sopts, nil
}

var lo = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}

// one full handshake on two fresh loopback sockets; the pair stays open
func dial(copts []dtls.ClientOption, sopts []dtls.ServerOption) (cli, srv *dtls.Conn, v protocol.Version, err error) {
	c2, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return nil, nil, 0, err
	}
	c1, err := net.ListenUDP("udp4", lo)
	if err != nil {
		c2.Close()
		return nil, nil, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err = dtls.Server(c2, c1.LocalAddr(), sopts...)
	if err != nil {
		c1.Close()
		c2.Close()
		return nil, nil, 0, err
	}
	cli, err = dtls.Client(c1, c2.LocalAddr(), copts...)
	if err != nil {
		srv.Close()
		c1.Close()
		return nil, nil, 0, err
	}
	var serr error
	done := make(chan struct{})
	go func() { serr = srv.HandshakeContext(ctx); close(done) }()
	cerr := cli.HandshakeContext(ctx)
	<-done
	if st, ok := cli.ConnectionState(); ok {
		v = st.NegotiatedVersion()
	}
	if cerr != nil || serr != nil {
		cli.Close()
		srv.Close()
		return nil, nil, v, fmt.Errorf("client %v server %v", cerr, serr)
	}
	return cli, srv, v, nil
}

// one full handshake on two fresh loopback sockets; returns the version
func fullHandshake(copts []dtls.ClientOption, sopts []dtls.ServerOption) (protocol.Version, error) {
	cli, srv, v, err := dial(copts, sopts)
	if err != nil {
		return v, err
	}
	cli.Close()
	srv.Close()
	return v, nil
}

const window = 32

// as bench/pion's stream: windows of 32 records, the receiver reading each
// window with a 200 ms deadline (what does not come is lost)
func stream(cli, srv *dtls.Conn, rec, total int) (cpu, wall float64, lost int) {
	buf := make([]byte, rec)
	rb := make([]byte, 16384)
	w0, c0 := time.Now(), cpuSeconds()
	for sent := 0; sent < total; sent += window {
		for i := 0; i < window; i++ {
			if _, err := cli.Write(buf); err != nil {
				fmt.Fprintln(os.Stderr, "write:", err)
				os.Exit(1)
			}
		}
		got := 0
		_ = srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for got < window {
			if _, err := srv.Read(rb); err != nil {
				break
			}
			got++
		}
		lost += window - got
	}
	return cpuSeconds() - c0, time.Since(w0).Seconds(), lost
}

// tput13: one DTLS 1.3 connection (X25519) streaming 1200-byte records,
// as cdtls_bench.c's tput13: MB per CPU and wall second, best of 3.
func benchTput13() {
	for _, t := range []struct {
		name  string
		suite ciphersuite.ID
		cert  string
	}{
		{"TLS13-CHACHA20-POLY1305/X25519/Ed25519", ciphersuite.TLS_CHACHA20_POLY1305_SHA256, "ed25519"},
		{"TLS13-AES128-GCM/X25519/ECDSA-P256", ciphersuite.TLS_AES_128_GCM_SHA256, "p256"},
	} {
		if *onlySuite != "" && *onlySuite != t.name {
			continue
		}
		copts, sopts, err := options(elliptic.X25519, t.suite, t.cert)
		if err != nil {
			notMeasured("tput13", t.name, err.Error())
			continue
		}
		cli, srv, v, err := dial(copts, sopts)
		if err != nil || v != protocol.Version1_3 {
			notMeasured("tput13", t.name, fmt.Sprintf("the DTLS 1.3 handshake failed (version %v): %v", v, err))
			if err == nil {
				cli.Close()
				srv.Close()
			}
			continue
		}
		total := 30016
		if *quick {
			total = 4000
		}
		stream(cli, srv, 16, window)
		best, bestWall, bestLost := 1e9, 0.0, 0
		for rep := 0; rep < 3; rep++ {
			cpu, wall, lost := stream(cli, srv, 1200, total)
			if cpu < best {
				best, bestWall, bestLost = cpu, wall, lost
			}
		}
		cli.Close()
		srv.Close()
		d := float64(total-bestLost) * 1200
		result("tput13", t.name, "MB_per_cpu_s", d/best/1e6)
		result("tput13", t.name, "MB_per_wall_s", d/bestWall/1e6)
		result("tput13", t.name, "lost", float64(bestLost))
	}
}

func benchHS13() {
	groups := []struct {
		name  string
		curve elliptic.Curve
		suite ciphersuite.ID
		cert  string
	}{
		{"TLS13-CHACHA20-POLY1305/X25519/Ed25519", elliptic.X25519, ciphersuite.TLS_CHACHA20_POLY1305_SHA256, "ed25519"},
		{"TLS13-CHACHA20-POLY1305/X25519MLKEM768/Ed25519", elliptic.X25519MLKEM768, ciphersuite.TLS_CHACHA20_POLY1305_SHA256, "ed25519"},
		{"TLS13-AES128-GCM/X25519/ECDSA-P256", elliptic.X25519, ciphersuite.TLS_AES_128_GCM_SHA256, "p256"},
		{"TLS13-AES128-GCM/X25519MLKEM768/ECDSA-P256", elliptic.X25519MLKEM768, ciphersuite.TLS_AES_128_GCM_SHA256, "p256"},
	}
	for _, g := range groups {
		if *onlySuite != "" && *onlySuite != g.name {
			continue
		}
		copts, sopts, err := options(g.curve, g.suite, g.cert)
		if err != nil {
			notMeasured("hs13", g.name, err.Error())
			continue
		}
		ok := true
		for w := 0; w < 5 && ok; w++ {
			serverGroup.Store(0)
			v, err := fullHandshake(copts, sopts)
			if err != nil {
				notMeasured("hs13", g.name, "handshake failed: "+err.Error())
				ok = false
			} else if v != protocol.Version1_3 || serverGroup.Load() != uint32(g.curve) {
				notMeasured("hs13", g.name, fmt.Sprintf("negotiated version %v group 0x%04x, not 1.3 / 0x%04x", v, serverGroup.Load(), uint16(g.curve)))
				ok = false
			}
		}
		if !ok {
			continue
		}
		iters := 400
		if *quick {
			iters = 50
		}
		best, wallRate, median := 0.0, 0.0, 0.0
		lat := make([]float64, iters)
		for rep := 0; rep < 3 && ok; rep++ {
			w0, c0 := time.Now(), cpuSeconds()
			for i := 0; i < iters; i++ {
				t0 := time.Now()
				if _, err := fullHandshake(copts, sopts); err != nil {
					fmt.Fprintln(os.Stderr, "pion4 handshake failed:", err)
					ok = false
					break
				}
				lat[i] = time.Since(t0).Seconds() * 1e3
			}
			cpu, wall := cpuSeconds()-c0, time.Since(w0).Seconds()
			if r := float64(iters) / cpu; ok && r > best {
				best, wallRate = r, float64(iters)/wall
				s := append([]float64(nil), lat...)
				sort.Float64s(s)
				median = s[iters/2]
			}
		}
		if !ok {
			notMeasured("hs13", g.name, "a handshake failed")
			continue
		}
		result("hs13", g.name, "hs_per_cpu_s", best)
		result("hs13", g.name, "hs_per_wall_s", wallRate)
		result("hs13", g.name, "median_ms", median)
		benchHS13Resumed(g.name, g.curve, copts, sopts, iters)
	}
}

// memStore is a pion SessionStore in memory (one per side). The client's
// says on ticketSet when a 1.3 ticket went in: the NewSessionTicket comes
// after the handshake, read by the client's read loop. pion's client asks
// with the key "<server address>_<server name>"; every handshake here has a
// server socket of its own (a new port), so the client's store keys by the
// server name alone, what SessionStore's documentation says a client's key
// is (cdtls_bench.c's server keeps its socket: its address is the key).
type memStore struct {
	mu        sync.Mutex
	m         map[string]dtls.Session
	ticketSet chan struct{}
	byName    bool
}

func newMemStore(client bool) *memStore {
	return &memStore{m: map[string]dtls.Session{}, ticketSet: make(chan struct{}, 1), byName: client}
}

func (s *memStore) key(k []byte) string {
	if i := bytes.LastIndexByte(k, '_'); s.byName && i >= 0 {
		return string(k[i+1:])
	}
	return string(k)
}

func (s *memStore) Set(key []byte, sess dtls.Session) error {
	s.mu.Lock()
	s.m[s.key(key)] = sess
	s.mu.Unlock()
	if sess.Ticket != nil {
		select {
		case s.ticketSet <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *memStore) Get(key []byte) (dtls.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[s.key(key)], nil
}

func (s *memStore) Del(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, s.key(key))
	return nil
}

// One handshake on two fresh loopback sockets that ends when the client's
// store took the server's new ticket (as cdtls_bench.c's
// net_handshake13_ticket waits for its store's put), so the next one can
// resume with it. Returns whether the server's ServerHello selected a PSK.
func ticketHandshake(copts []dtls.ClientOption, sopts []dtls.ServerOption, cstore *memStore) (bool, error) {
	select { // a ticket left over from before does not count
	case <-cstore.ticketSet:
	default:
	}
	serverPSK.Store(0)
	cli, srv, v, err := dial(copts, sopts)
	if err != nil {
		return false, err
	}
	defer srv.Close()
	defer cli.Close()
	if v != protocol.Version1_3 {
		return false, fmt.Errorf("negotiated version %v, not 1.3", v)
	}
	psk := serverPSK.Load() == 1
	select {
	case <-cstore.ticketSet:
	case <-time.After(2 * time.Second):
		return psk, errors.New("no ticket reached the client's store within 2 s")
	}
	return psk, nil
}

// hs13 "... resumed": the same suite and group, each handshake resuming the
// previous one's session by its ticket (RFC 8446 §4.6.1; pion issues and
// takes tickets when both sides have a SessionStore, keyed by the server
// name on the client, by the ticket on the server), as cdtls_bench.c's
// bench_hs13_resumed: one full handshake for the first ticket, 3 resumed
// for warm-up, then the best of 3 runs of iters, each checked to resume
// (the server's ServerHello carries pre_shared_key) and with its group.
func benchHS13Resumed(name string, curve elliptic.Curve, copts0 []dtls.ClientOption, sopts0 []dtls.ServerOption, iters int) {
	rname := name + " resumed"
	cstore, sstore := newMemStore(true), newMemStore(false)
	copts := append(append([]dtls.ClientOption(nil), copts0...), dtls.WithSessionStore(cstore))
	sopts := append(append([]dtls.ServerOption(nil), sopts0...), dtls.WithSessionStore(sstore))
	if _, err := ticketHandshake(copts, sopts, cstore); err != nil {
		notMeasured("hs13", rname, "the full handshake that makes the ticket: "+err.Error())
		return
	}
	for w := 0; w < 3; w++ {
		serverGroup.Store(0)
		psk, err := ticketHandshake(copts, sopts, cstore)
		if err != nil {
			notMeasured("hs13", rname, "handshake failed: "+err.Error())
			return
		}
		if !psk {
			notMeasured("hs13", rname, "the server did not resume (no pre_shared_key in its ServerHello)")
			return
		}
		if serverGroup.Load() != uint32(curve) {
			notMeasured("hs13", rname, fmt.Sprintf("resumed with group 0x%04x, not 0x%04x", serverGroup.Load(), uint16(curve)))
			return
		}
	}
	best, wallRate := 0.0, 0.0
	for rep := 0; rep < 3; rep++ {
		w0, c0 := time.Now(), cpuSeconds()
		for i := 0; i < iters; i++ {
			psk, err := ticketHandshake(copts, sopts, cstore)
			if err != nil || !psk {
				fmt.Fprintln(os.Stderr, "pion4 resumed handshake failed or did not resume:", err)
				notMeasured("hs13", rname, "a handshake failed or did not resume")
				return
			}
		}
		cpu, wall := cpuSeconds()-c0, time.Since(w0).Seconds()
		if r := float64(iters) / cpu; r > best {
			best, wallRate = r, float64(iters)/wall
		}
	}
	result("hs13", rname, "hs_per_cpu_s", best)
	result("hs13", rname, "hs_per_wall_s", wallRate)
}

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(1)
	if *only == "" || *only == "hs13" {
		benchHS13()
	}
	if *only == "" || *only == "tput13" {
		benchTput13()
	}
}
