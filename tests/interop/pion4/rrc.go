// Connection IDs with the Return Routability Check (RFC 9853): -cid N
// makes pion hand out N-byte random CIDs and validate a peer's new address
// with RRC (CIDPathMigrationRRC) before following it; the rrc extension is
// offered and accepted only then. The server reports the peer address it
// ended on, so a test can see that it followed (or did not).
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"net"

	"github.com/pion/dtls/v4"
)

var cidLen = flag.Int("cid", 0, "connection ID length (0: none); with it, RRC path validation (RFC 9853)")

func rrcOptions() []dtls.Option {
	if *cidLen <= 0 {
		return nil
	}
	n := *cidLen
	gen := func() []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	return []dtls.Option{dtls.WithConnectionID(gen, dtls.CIDPathMigrationRRC)}
}

// rrcReport prints where the connection's peer is now (after the echo).
func rrcReport(conn net.Conn) {
	if *cidLen > 0 {
		fmt.Printf("pion: remote=%s\n", conn.RemoteAddr())
	}
}
