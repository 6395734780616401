// Connection IDs over DTLS 1.3 (RFC 9147 §9) and 1.2 (RFC 9146) for
// tests/test_interop_pion4.c: -cid N gives pion a random N-byte CID (0: it
// only sends ours), with CIDPathMigrationUnsafe so an authenticated record
// from a new address moves the connection without a return routability
// check (RFC 9853, which cdtls does not speak yet). -echoes N: the server
// echoes N messages. -migrate: the client, after its first echo, moves to a
// new UDP socket (Conn.AddPath + Path.Switch, which in unsafe mode keeps
// the active CID) and sends -message again from there.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v4"
)

var (
	cidLen  = flag.Int("cid", -1, "connection ID length (0: send the peer's only); -1: no CIDs")
	echoes  = flag.Int("echoes", 1, "server: how many messages to echo")
	migrate = flag.Bool("migrate", false, "client, with -cid: move to a new UDP socket after the first echo and send -message again")
)

func cidOptions() []dtls.Option {
	if *cidLen < 0 {
		return nil
	}
	gen := dtls.OnlySendCIDGenerator()
	if *cidLen > 0 {
		gen = dtls.RandomCIDGenerator(*cidLen)
	}
	return []dtls.Option{dtls.WithConnectionID(gen, dtls.CIDPathMigrationUnsafe)}
}

// migrateAndEcho sends message again from a new local port and reads the echo.
func migrateAndEcho(conn *dtls.Conn, message string) {
	if !*migrate {
		return
	}
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fail("new socket: %v", err)
	}
	path, err := conn.AddPath(sock)
	if err != nil {
		fail("add path: %v", err)
	}
	if *rrcCidLen > 0 {
		// RFC 9853 (rrc.go): pion validates the new path itself first
		// (a spare CID of ours, by RequestConnectionId if it has none,
		// then path_challenge from the new socket), then switches.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := path.Probe(ctx)
		cancel()
		if err != nil {
			fail("probe path: %v", err)
		}
		fmt.Printf("pion: probed %s\n", sock.LocalAddr())
	}
	if err := path.Switch(); err != nil {
		fail("switch path: %v", err)
	}
	fmt.Printf("pion: migrated to %s\n", sock.LocalAddr())
	if _, err := conn.Write([]byte(message)); err != nil {
		fail("write after migration: %v", err)
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		fail("read after migration: %v", err)
	}
	fmt.Printf("pion: recv after migration=%s\n", buf[:n])
}
