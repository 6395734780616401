// Connection IDs with the Return Routability Check (RFC 9853): -rrc-cid N
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

var rrcCidLen = flag.Int("rrc-cid", 0, "connection ID length (0: none) with RRC path validation (RFC 9853); -cid (cid.go) is without")

func rrcOptions() []dtls.Option {
	if *rrcCidLen <= 0 {
		return nil
	}
	n := *rrcCidLen
	gen := func() []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	return []dtls.Option{dtls.WithConnectionID(gen, dtls.CIDPathMigrationRRC)}
}

// rrcReport prints where the connection's peer is now (after the echo).
func rrcReport(conn net.Conn) {
	if *rrcCidLen > 0 {
		fmt.Printf("pion: remote=%s\n", conn.RemoteAddr())
	}
}
