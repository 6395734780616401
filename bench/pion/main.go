// pion-bench: the cdtls benchmark workloads (bench/cdtls_bench.c) against
// pion/dtls v3 (pinned in go.mod, the version tests/interop/pion uses), for
// the ratios in docs/benchmarks.md.
//
// GOMAXPROCS=1: client and server share one core, as the C programs run
// both ends in one thread; rates are per CPU second of the whole process
// (getrusage), garbage collection included. Same suites, groups,
// certificates (bench.sh makes them), MTU 1500, cookie exchange on (pion's
// default HelloVerifyRequest), extended master secret on (pion's default),
// session-ID resumption through a SessionStore, windows of 32 records.
//
// Each handshake uses two fresh loopback sockets: pion's Conn owns and
// closes its net.PacketConn (its read loop would otherwise keep reading).
//
// scale: one dtls.Listen (pion's multi-peer listener) holding -scale
// established PSK peers, as cdtls_bench.c's scale workload holds them in a
// cdtls_listener: 1,000 handshakes on an empty server, then up to -scale
// established, then 1,000 more with those held; 16 clients in flight, each
// on its own socket, in this process (on the same core, counted in the CPU
// seconds, as cdtls's clients are).
//
//	pion-bench [-quick] [-only handshake|resume|tput|memory|scale|workers] [-certs DIR] [-scale N] [-suite NAME]
//
// Results are JSON lines, as bench_common.h prints them.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/elliptic"
)

const impl = "pion-dtls-v3.1.15"

var (
	quick     = flag.Bool("quick", false, "short runs")
	only      = flag.String("only", "", "one workload")
	certsDir  = flag.String("certs", "zig-out/bench/certs", "certificates made by scripts/bench.sh")
	scaleN    = flag.Int("scale", 10000, "established peers in the scale workload")
	onlySuite = flag.String("suite", "", "scale: only this suite")
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

// ------------------------------------------------------------- configs

type suiteDef struct {
	name  string
	id    dtls.CipherSuiteID
	psk   bool
	cert  string
	curve elliptic.Curve
}

var hsSuites = []suiteDef{
	{"PSK-AES128-GCM-SHA256", dtls.TLS_PSK_WITH_AES_128_GCM_SHA256, true, "", 0},
	{"PSK-CHACHA20-POLY1305-SHA256", dtls.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, true, "", 0},
	{"ECDHE-ECDSA-AES128-GCM-SHA256/P-256", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, "p256", elliptic.P256},
	{"ECDHE-ECDSA-CHACHA20-POLY1305/X25519/Ed25519", dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false, "ed25519", elliptic.X25519},
}

var psk = []byte("bench-psk-16byte")

// countingStore is an in-memory SessionStore that counts what the
// handshake does with it: a server that resumes looks a session up and
// stores none; a full handshake stores a new one.
type countingStore struct {
	mu   sync.Mutex
	m    map[string]dtls.Session
	sets atomic.Int64
	hits atomic.Int64
}

func newStore() *countingStore { return &countingStore{m: map[string]dtls.Session{}} }

func (s *countingStore) Set(key []byte, sess dtls.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = sess
	s.sets.Add(1)
	return nil
}

func (s *countingStore) Get(key []byte) (dtls.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[string(key)]
	if !ok {
		return dtls.Session{}, nil
	}
	s.hits.Add(1)
	return sess, nil
}

func (s *countingStore) Del(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(key))
	return nil
}

func makeConfigs(sd suiteDef) (*dtls.Config, *dtls.Config, error) {
	cc := &dtls.Config{CipherSuites: []dtls.CipherSuiteID{sd.id}, MTU: 1500, ExtendedMasterSecret: dtls.RequestExtendedMasterSecret}
	sc := &dtls.Config{CipherSuites: []dtls.CipherSuiteID{sd.id}, MTU: 1500, ExtendedMasterSecret: dtls.RequestExtendedMasterSecret}
	if sd.psk {
		cb := func([]byte) ([]byte, error) { return psk, nil }
		cc.PSK, sc.PSK = cb, cb
		cc.PSKIdentityHint = []byte("bench")
		sc.PSKIdentityHint = []byte{}
		return cc, sc, nil
	}
	leaf, err := tls.LoadX509KeyPair(*certsDir+"/"+sd.cert+"-leaf.pem", *certsDir+"/"+sd.cert+"-leaf.key")
	if err != nil {
		return nil, nil, err
	}
	rootPEM, err := os.ReadFile(*certsDir + "/" + sd.cert + "-root.pem")
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, nil, errors.New("bad root")
	}
	sc.Certificates = []tls.Certificate{leaf}
	cc.RootCAs = pool
	cc.ServerName = "bench.example"
	cc.EllipticCurves = []elliptic.Curve{sd.curve}
	sc.EllipticCurves = []elliptic.Curve{sd.curve}
	// pion's default list of schemes for the chain leaves Ed25519 out
	scheme := tls.ECDSAWithP256AndSHA256
	if sd.cert == "ed25519" {
		scheme = tls.Ed25519
	}
	cc.SignatureSchemes = []tls.SignatureScheme{scheme}
	sc.SignatureSchemes = []tls.SignatureScheme{scheme}
	cc.CertificateSignatureSchemes = []tls.SignatureScheme{scheme}
	if sd.cert == "ed25519" {
		// pion v3.1.15 refuses an Ed25519-signed chain in its signature
		// algorithm check (signaturehash.FromCertificate gives Ed25519 a hash
		// the allowed list never has). The same verification, done through
		// its documented hook: crypto/x509 against the root, with the name.
		cc.InsecureSkipVerify = true
		cc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "bench.example"})
			return err
		}
	}
	return cc, sc, nil
}

// --------------------------------------------------------------- pairs

type pair struct{ cli, srv *dtls.Conn }

var lo = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}

// The server's port stays the same from one handshake to the next: pion's
// client keys its session store by the server's address (and name).
var serverAddr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}

func handshake(cc, sc *dtls.Config) (*pair, error) { return handshakeOn(cc, sc, false) }

// handshakeOn: fixedPort true binds the server to the port it had last time
// (resumption: pion's client keys its session store by the server's address);
// false gives it a fresh port.
func handshakeOn(cc, sc *dtls.Config, fixedPort bool) (*pair, error) {
	// The server's socket first: a client socket bound first could be given
	// the very port the server wants back (the kernel hands out the port
	// just freed).
	sa := serverAddr
	if !fixedPort {
		sa = lo
	}
	c2, err := net.ListenUDP("udp4", sa)
	for tries := 0; err != nil && fixedPort && tries < 200; tries++ {
		// pion closes the previous server's socket from its own goroutine:
		// the port may still be taken for a moment
		time.Sleep(time.Millisecond)
		c2, err = net.ListenUDP("udp4", sa)
	}
	if err != nil {
		return nil, err
	}
	if fixedPort {
		serverAddr = c2.LocalAddr().(*net.UDPAddr)
	}
	c1, err := net.ListenUDP("udp4", lo)
	if err != nil {
		c2.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := dtls.Server(c2, c1.LocalAddr(), sc)
	if err != nil {
		return nil, err
	}
	cli, err := dtls.Client(c1, c2.LocalAddr(), cc)
	if err != nil {
		return nil, err
	}
	var serr error
	done := make(chan struct{})
	go func() { serr = srv.HandshakeContext(ctx); close(done) }()
	cerr := cli.HandshakeContext(ctx)
	<-done
	if cerr != nil || serr != nil {
		cli.Close()
		srv.Close()
		return nil, fmt.Errorf("client %v server %v", cerr, serr)
	}
	return &pair{cli, srv}, nil
}

func (p *pair) close() {
	p.cli.Close()
	p.srv.Close()
}

// ---------------------------------------------------------- handshakes

func benchHandshakes(resume bool) {
	wl := "handshake"
	if resume {
		wl = "resume"
	}
	for _, sd := range hsSuites {
		cc, sc, err := makeConfigs(sd)
		if err != nil {
			notMeasured(wl, sd.name, err.Error())
			continue
		}
		var sstore *countingStore
		if resume {
			cc.SessionStore = newStore()
			sstore = newStore()
			sc.SessionStore = sstore
		}
		iters := 3000
		if !sd.psk {
			iters = 600
		}
		if *quick {
			iters = 50
		}
		ok := true
		for w := 0; w < 5 && ok; w++ {
			p, err := handshakeOn(cc, sc, resume)
			if err != nil {
				notMeasured(wl, sd.name, "handshake failed: "+err.Error())
				ok = false
				break
			}
			p.close()
		}
		if !ok {
			continue
		}
		best, wallRate, reported := 0.0, 0.0, false
		for rep := 0; rep < 3 && ok; rep++ {
			var sets0 int64
			if resume {
				sets0 = sstore.sets.Load()
			}
			w0, c0 := time.Now(), cpuSeconds()
			for i := 0; i < iters; i++ {
				p, err := handshakeOn(cc, sc, resume)
				if err != nil {
					fmt.Fprintln(os.Stderr, "pion handshake failed:", err)
					ok = false
					break
				}
				p.close()
			}
			cpu, wall := cpuSeconds()-c0, time.Since(w0).Seconds()
			if resume && sstore.sets.Load() != sets0 {
				// the server stored new sessions: some handshakes were full
				notMeasured(wl, sd.name, "pion did not resume every handshake")
				ok, reported = false, true
				break
			}
			if r := float64(iters) / cpu; r > best {
				best, wallRate = r, float64(iters)/wall
			}
		}
		if ok {
			result(wl, sd.name, "hs_per_cpu_s", best)
			result(wl, sd.name, "hs_per_wall_s", wallRate)
		} else if !reported {
			notMeasured(wl, sd.name, "a handshake failed")
		}
	}
}

// ---------------------------------------------------------- throughput

const window = 32

func stream(p *pair, rec, total int) (cpu, wall float64, lost int) {
	buf := make([]byte, rec)
	rb := make([]byte, 16384)
	w0, c0 := time.Now(), cpuSeconds()
	for sent := 0; sent < total; sent += window {
		for i := 0; i < window; i++ {
			if _, err := p.cli.Write(buf); err != nil {
				fmt.Fprintln(os.Stderr, "write:", err)
				os.Exit(1)
			}
		}
		got := 0
		_ = p.srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for got < window {
			if _, err := p.srv.Read(rb); err != nil {
				break
			}
			got++
		}
		lost += window - got
	}
	return cpuSeconds() - c0, time.Since(w0).Seconds(), lost
}

func benchTput() {
	for _, sd := range hsSuites[:2] {
		cc, sc, _ := makeConfigs(sd)
		p, err := handshake(cc, sc)
		if err != nil {
			notMeasured("tput", sd.name, err.Error())
			continue
		}
		stream(p, 16, window)
		for _, size := range []int{1200, 64} {
			total := 300000
			if size == 1200 {
				total = 200000
			}
			if *quick {
				total = 20000
			}
			best, bestWall, bestLost := 1e9, 0.0, 0
			for rep := 0; rep < 3; rep++ {
				cpu, wall, lost := stream(p, size, total)
				if cpu < best {
					best, bestWall, bestLost = cpu, wall, lost
				}
			}
			delivered := float64(total - bestLost)
			if size == 1200 {
				result("tput1200", sd.name, "MB_per_cpu_s", delivered*1200/best/1e6)
				result("tput1200", sd.name, "MB_per_wall_s", delivered*1200/bestWall/1e6)
				result("tput1200", sd.name, "lost", float64(bestLost))
			} else {
				result("rec64", sd.name, "rec_per_cpu_s", delivered/best)
				result("rec64", sd.name, "rec_per_wall_s", delivered/bestWall)
				result("rec64", sd.name, "lost", float64(bestLost))
			}
		}
		p.close()
	}
}

// -------------------------------------------------------------- memory

// Heap held per established pair (client + server Conn, with their read
// goroutines' stacks counted apart), from 200 pairs held at once, after a
// record each way and a GC.
func benchMemory() {
	n := 200
	if *quick {
		n = 20
	}
	for _, sd := range hsSuites {
		cc, sc, err := makeConfigs(sd)
		if err != nil {
			continue
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		pairs := make([]*pair, 0, n)
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			p, err := handshakeOn(cc, sc, false)
			if err != nil {
				break
			}
			p.cli.Write(buf[:16])
			p.srv.Read(buf)
			p.srv.Write(buf[:16])
			p.cli.Read(buf)
			pairs = append(pairs, p)
		}
		if len(pairs) < n {
			notMeasured("memory", sd.name, "handshake failed")
			for _, p := range pairs {
				p.close()
			}
			continue
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		result("memory", sd.name, "pair_established_B", float64(m1.HeapAlloc-m0.HeapAlloc)/float64(n))
		result("memory", sd.name, "pair_goroutine_stack_B", float64(m1.StackInuse-m0.StackInuse)/float64(n))
		for _, p := range pairs {
			p.close()
		}
	}
}

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(100)
	run := func(name string, f func()) {
		if *only == "" || *only == name {
			f()
		}
	}
	run("memory", benchMemory)
	run("handshake", func() { benchHandshakes(false) })
	run("resume", func() { benchHandshakes(true) })
	run("tput", benchTput)
	run("scale", benchScale)
	run("workers", benchWorkers)
	// on request only (scripts/bench.sh asks for them)
	if *only == "tputsize" {
		benchTputSize()
	}
	if *only == "loss" {
		benchLoss()
	}
}

// --------------------------------------------------------------- scale

// quietConn is a scale client's socket, which outlives the client's
// dtls.Conn: cdtls's scale clients free their engine once established and
// keep the socket open, its port being the server's key for that peer.
// mute() before the Conn's Close: the Conn's close_notify is dropped (it
// would make the server close the peer), its read loop is woken and told
// the socket is closed, and the socket itself stays open.
type quietConn struct {
	*net.UDPConn
	muted atomic.Bool
}

func (q *quietConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := q.UDPConn.ReadFrom(b)
	if q.muted.Load() {
		return 0, nil, net.ErrClosed
	}
	return n, a, err
}

func (q *quietConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if q.muted.Load() {
		return len(b), nil
	}
	return q.UDPConn.WriteTo(b, a)
}

func (q *quietConn) Close() error { return nil }

func (q *quietConn) mute() {
	q.muted.Store(true)
	_ = q.UDPConn.SetReadDeadline(time.Unix(1, 0))
}

type scaleServer struct {
	ln    net.Listener
	addr  *net.UDPAddr
	got   chan bool // a peer's first record was read (true), or its handshake failed
	mu    sync.Mutex
	conns []*dtls.Conn
}

func (s *scaleServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		dc := c.(*dtls.Conn)
		s.mu.Lock()
		s.conns = append(s.conns, dc)
		s.mu.Unlock()
		go s.serve(dc)
	}
}

// serve is the server's goroutine for one peer, as a Go server has one:
// the first Read runs the handshake, then it reads until the Conn closes
// (pion: an accepted Conn must be read or closed).
func (s *scaleServer) serve(c *dtls.Conn) {
	var buf [1500]byte
	first := true
	for {
		if _, err := c.Read(buf[:]); err != nil {
			if first {
				s.got <- false
			}
			return
		}
		if first {
			first = false
			s.got <- true
		}
	}
}

var rec16 = make([]byte, 16)

// scaleClient: one handshake from its own socket, one record so the server
// has read something from the peer, then the Conn is dropped (socket kept).
func scaleClient(q *quietConn, srv net.Addr, cc *dtls.Config) error {
	c, err := dtls.Client(q, srv, cc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = c.HandshakeContext(ctx)
	if err == nil {
		_, err = c.Write(rec16)
	}
	q.mute()
	c.Close()
	return err
}

// scalePhase runs the handshakes of clients [from, to), at most inflight at
// once, and waits until the server has read each one's first record.
func scalePhase(s *scaleServer, qs []*quietConn, cc *dtls.Config, from, to, inflight int) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := scaleClient(qs[i], s.addr, cc); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("client %d: %w", i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return e
	}
	deadline := time.After(120 * time.Second)
	for n := from; n < to; n++ {
		select {
		case ok := <-s.got:
			if !ok {
				return errors.New("a server-side handshake failed")
			}
		case <-deadline:
			return fmt.Errorf("the server read %d of %d peers' records", n-from, to-from)
		}
	}
	return nil
}

// settledHeap: the heap after three collections: sync.Pool keeps what was
// put back through one (its victim cache), and pion pools its 8 KiB read
// buffers; a peer's read loop holds one while it waits, which stays
// counted.
func settledHeap(m *runtime.MemStats) {
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(m)
}

func benchScale() {
	n := *scaleN
	probe := 1000
	if n < 2000 {
		probe = n / 2
	}
	total := n + probe
	const inflight = 16
	// 10,000+ client sockets: the soft limit up to the hard one (Go since
	// 1.19 does this at start already; said here so it does not depend on it)
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if *onlySuite == "" {
		// one process per suite: the Go runtime keeps what one run made
		// (goroutine descriptors, stack spans) for the next to reuse, which
		// would make the second suite's peers look smaller
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pion scale:", err)
			return
		}
		for _, sd := range hsSuites[:2] {
			args := []string{"-only", "scale", "-scale", strconv.Itoa(n), "-suite", sd.name, "-certs", *certsDir}
			if *quick {
				args = append(args, "-quick")
			}
			cmd := exec.Command(exe, args...)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				notMeasured("scale", sd.name, "pion-bench exited: "+err.Error())
			}
		}
		return
	}
	for _, sd := range hsSuites[:2] {
		if *onlySuite != sd.name {
			continue
		}
		if rl.Cur < uint64(total+100) {
			notMeasured("scale", sd.name, "not enough file descriptors for the clients")
			continue
		}
		cc, sc, err := makeConfigs(sd)
		if err != nil {
			notMeasured("scale", sd.name, err.Error())
			continue
		}
		gBase := runtime.NumGoroutine()
		// the clients' sockets first, so that the heap measured below
		// holds the server's per-peer state only (cdtls counts its
		// listener's allocations alone; the sockets are not in it)
		qs := make([]*quietConn, total)
		for i := range qs {
			u, err := net.ListenUDP("udp4", lo)
			if err != nil {
				fmt.Fprintln(os.Stderr, "pion scale: client socket:", err)
				os.Exit(1)
			}
			qs[i] = &quietConn{UDPConn: u}
		}
		ln, err := dtls.Listen("udp4", lo, sc)
		if err != nil {
			notMeasured("scale", sd.name, err.Error())
			continue
		}
		s := &scaleServer{ln: ln, addr: ln.Addr().(*net.UDPAddr), got: make(chan bool, total), conns: make([]*dtls.Conn, 0, total)}
		go s.acceptLoop()
		var m0, m1 runtime.MemStats
		settledHeap(&m0)
		g0 := runtime.NumGoroutine()

		w0, c0 := time.Now(), cpuSeconds()
		err = scalePhase(s, qs, cc, 0, probe, inflight)
		wall0, cpu0 := time.Since(w0).Seconds(), cpuSeconds()-c0
		if err == nil {
			err = scalePhase(s, qs, cc, probe, n, inflight)
		}
		var wallN, cpuN float64
		var g1 int
		if err == nil {
			// the dropped clients' goroutines end, then what is left is
			// the n peers' server side
			time.Sleep(100 * time.Millisecond)
			settledHeap(&m1)
			g1 = runtime.NumGoroutine()
			w0, c0 = time.Now(), cpuSeconds()
			err = scalePhase(s, qs, cc, n, total, inflight)
			wallN, cpuN = time.Since(w0).Seconds(), cpuSeconds()-c0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pion scale:", err)
			notMeasured("scale", sd.name, "handshakes did not complete: "+err.Error())
		} else {
			s.mu.Lock()
			peers := len(s.conns)
			s.mu.Unlock()
			result("scale", sd.name, "peers", float64(peers))
			result("scale", sd.name, "server_B_per_peer", float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n))
			result("scale", sd.name, "server_stack_B_per_peer", float64(int64(m1.StackInuse)-int64(m0.StackInuse))/float64(n))
			result("scale", sd.name, "goroutines_per_peer", float64(g1-g0)/float64(n))
			result("scale", sd.name, "hs_per_wall_s_empty", float64(probe)/wall0)
			result("scale", sd.name, "hs_per_cpu_s_empty", float64(probe)/cpu0)
			result("scale", sd.name, "hs_per_wall_s_loaded", float64(probe)/wallN)
			result("scale", sd.name, "hs_per_cpu_s_loaded", float64(probe)/cpuN)
		}
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		for _, q := range qs {
			q.UDPConn.Close()
		}
		for t := 0; t < 1000 && runtime.NumGoroutine() > gBase; t++ {
			time.Sleep(10 * time.Millisecond)
		}
		if g := runtime.NumGoroutine(); g > gBase {
			fmt.Fprintf(os.Stderr, "pion scale: %d goroutines left after closing\n", g-gBase)
		}
	}
}

// ------------------------------------------------------------- workers

// benchWorkers is the pion side of cdtls's "workers" workload (issue 23):
// one dtls.Listen server, a goroutine per connection (pion's way to use
// many cores), loaded from this process by 16 client goroutines each
// handshaking from a socket of its own, with GOMAXPROCS 1 and then 2; and
// 1200-byte records from 2 client goroutines. Rates per wall second; the
// scaling ratio is 2 / 1, beside cdtls's 2 workers / 1.
func benchWorkers() {
	defer runtime.GOMAXPROCS(1)
	// the suites cdtls measures: bearssl's (PSK-AES128-GCM, ECDSA P-256) and
	// sodium's (PSK-ChaCha20, Ed25519/X25519)
	for _, sd := range hsSuites {
		cc, sc, err := makeConfigs(sd)
		if err != nil {
			notMeasured("workers_hs", sd.name, err.Error())
			continue
		}
		var hs, mb [2]float64
		for procs := 1; procs <= 2; procs++ {
			runtime.GOMAXPROCS(procs)
			hs[procs-1] = workersHandshakes(cc, sc)
			if sd.psk {
				mb[procs-1] = workersTput(cc, sc)
			}
		}
		for w := 1; w <= 2; w++ {
			if hs[w-1] > 0 {
				result("workers_hs", sd.name, fmt.Sprintf("hs_per_wall_s_w%d", w), hs[w-1])
			} else {
				notMeasured("workers_hs", sd.name, "the server could not be started")
			}
			if sd.psk && mb[w-1] > 0 {
				result("workers_tput1200", sd.name, fmt.Sprintf("MB_per_wall_s_w%d", w), mb[w-1])
			}
		}
		if hs[0] > 0 && hs[1] > 0 {
			result("workers_hs", sd.name, "scaling", hs[1]/hs[0])
		}
		if mb[0] > 0 && mb[1] > 0 {
			result("workers_tput1200", sd.name, "scaling", mb[1]/mb[0])
		}
	}
}

// workersServer: accepts, and reads every connection until it ends,
// counting the bytes.
func workersServer(ln net.Listener, accepted, bytes *atomic.Int64) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted.Add(1)
		go func(c net.Conn) {
			var buf [1500]byte
			for {
				n, err := c.Read(buf[:])
				if err != nil {
					c.Close()
					return
				}
				bytes.Add(int64(n))
			}
		}(c)
	}
}

func workersSeconds() time.Duration {
	if *quick {
		return 1500 * time.Millisecond
	}
	return 5 * time.Second
}

func workersHandshakes(cc, sc *dtls.Config) float64 {
	ln, err := dtls.Listen("udp4", lo, sc)
	if err != nil {
		return -1
	}
	var accepted, bytes atomic.Int64
	go workersServer(ln, &accepted, &bytes)
	addr := ln.Addr()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				u, err := net.ListenUDP("udp4", lo)
				if err != nil {
					return
				}
				c, err := dtls.Client(u, addr, cc)
				if err != nil {
					u.Close()
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = c.HandshakeContext(ctx)
				cancel()
				c.Close() // close_notify: the server's read ends
				u.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	a0, w0 := accepted.Load(), time.Now()
	time.Sleep(workersSeconds())
	a1, wall := accepted.Load(), time.Since(w0).Seconds()
	stop.Store(true)
	wg.Wait()
	ln.Close()
	return float64(a1-a0) / wall
}

func workersTput(cc, sc *dtls.Config) float64 {
	ln, err := dtls.Listen("udp4", lo, sc)
	if err != nil {
		return -1
	}
	var accepted, bytes atomic.Int64
	go workersServer(ln, &accepted, &bytes)
	rec := make([]byte, 1200)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		u, err := net.ListenUDP("udp4", lo)
		if err != nil {
			return -1
		}
		c, err := dtls.Client(u, ln.Addr(), cc)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = c.HandshakeContext(ctx)
			cancel()
		}
		if err != nil {
			u.Close()
			return -1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := c.Write(rec); err != nil {
					break
				}
			}
			c.Close()
			u.Close()
		}()
	}
	time.Sleep(300 * time.Millisecond)
	b0, w0 := bytes.Load(), time.Now()
	time.Sleep(workersSeconds())
	b1, wall := bytes.Load(), time.Since(w0).Seconds()
	stop.Store(true)
	wg.Wait()
	ln.Close()
	return float64(b1-b0) / wall / 1e6
}

// ------------------------------------------------- throughput by size

// As cdtls_bench.c's tputsize: the per-datagram stream at each record size.
func benchTputSize() {
	for _, sd := range hsSuites[:2] {
		cc, sc, _ := makeConfigs(sd)
		p, err := handshake(cc, sc)
		if err != nil {
			notMeasured("tputsize", sd.name, err.Error())
			continue
		}
		stream(p, 16, window)
		for _, size := range []int{64, 256, 512, 1024, 1200, 1400} {
			total := 30016
			if *quick {
				total = 4000
			}
			best, bestLost := 1e9, 0
			for rep := 0; rep < 2; rep++ {
				cpu, _, lost := stream(p, size, total)
				if cpu < best {
					best, bestLost = cpu, lost
				}
			}
			wl := fmt.Sprintf("tputsize%d", size)
			result(wl, sd.name, "MB_per_cpu_s", float64(total-bestLost)*float64(size)/best/1e6)
			result(wl, sd.name, "lost", float64(bestLost))
		}
		p.close()
	}
}

// --------------------------------------------- handshake under loss

// As cdtls_bench.c's loss sweep: a PSK handshake (HelloVerifyRequest on,
// pion's default) over loopback with loss of the datagrams dropped at the
// sender each way (lossyConn wraps each side's socket; the same xorshift64
// and seeds as the C programs), the first retransmission after 50 ms
// (FlightInterval) and pion's own backoff (doubling; its cap is not
// configurable), a handshake not done within 30 s failed.
type lossyConn struct {
	net.PacketConn
	rng *lossRNG
}

type lossRNG struct {
	mu sync.Mutex
	s  uint64
	p  float64
}

func (r *lossRNG) drop() bool {
	if r.p <= 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s ^= r.s << 13
	r.s ^= r.s >> 7
	r.s ^= r.s << 17
	return float64(r.s>>11)/9007199254740992.0 < r.p
}

func (l *lossyConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if l.rng.drop() {
		return len(b), nil
	}
	return l.PacketConn.WriteTo(b, a)
}

func lossHandshake(cc, sc *dtls.Config, rng *lossRNG) (float64, error) {
	c2, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return 0, err
	}
	c1, err := net.ListenUDP("udp4", lo)
	if err != nil {
		c2.Close()
		return 0, err
	}
	w0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := dtls.Server(&lossyConn{c2, rng}, c1.LocalAddr(), sc)
	if err != nil {
		return 0, err
	}
	cli, err := dtls.Client(&lossyConn{c1, rng}, c2.LocalAddr(), cc)
	if err != nil {
		return 0, err
	}
	var serr error
	done := make(chan struct{})
	go func() { serr = srv.HandshakeContext(ctx); close(done) }()
	cerr := cli.HandshakeContext(ctx)
	<-done
	ms := float64(time.Since(w0).Microseconds()) / 1e3
	cli.Close()
	srv.Close()
	if cerr != nil || serr != nil {
		return 0, fmt.Errorf("client %v server %v", cerr, serr)
	}
	return ms, nil
}

func benchLoss() {
	sd := hsSuites[0]
	cc, sc, _ := makeConfigs(sd)
	cc.FlightInterval, sc.FlightInterval = 50*time.Millisecond, 50*time.Millisecond
	iters := 12
	if *quick {
		iters = 4
	}
	for pct := 0; pct <= 50; pct += 10 {
		rng := &lossRNG{s: 0x9e3779b97f4a7c15 + uint64(pct), p: float64(pct) / 100}
		var t []float64
		failed := 0
		for k := 0; k < iters; k++ {
			ms, err := lossHandshake(cc, sc, rng)
			if err != nil {
				failed++
				continue
			}
			t = append(t, ms)
		}
		wl := fmt.Sprintf("loss%d", pct)
		if len(t) > 0 {
			sort.Float64s(t)
			sum := 0.0
			for _, v := range t {
				sum += v
			}
			p90 := len(t) * 9 / 10
			if p90 >= len(t) {
				p90 = len(t) - 1
			}
			result(wl, sd.name, "hs_ms_median", t[len(t)/2])
			result(wl, sd.name, "hs_ms_mean", sum/float64(len(t)))
			result(wl, sd.name, "hs_ms_p90", t[p90])
		}
		result(wl, sd.name, "hs_failed", float64(failed))
	}
}
