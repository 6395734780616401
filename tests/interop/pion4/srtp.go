// DTLS-SRTP (RFC 5764, RFC 7714) and ALPN (RFC 7301) for pion4-peer, over
// DTLS 1.3 as over 1.2 (RFC 9147 keeps use_srtp; the keying material comes
// from the 1.3 exporter, RFC 8446 §7.5). Flags:
//
//	-alpn h2,webrtc                      ALPN protocols (client: offered;
//	                                     server: the ones it speaks)
//	-srtp SRTP_AEAD_AES_128_GCM,...      SRTP protection profiles
//	-export EXTRACTOR-dtls_srtp:56       LABEL:LEN exported after the handshake
//
// and after the handshake it prints
//
//	pion: alpn=webrtc
//	pion: srtp=0x0007
//	pion: export=<HEX>
package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/dtls/v4"
)

var (
	alpnFlag   = flag.String("alpn", "", "ALPN protocols, comma-separated")
	srtpFlag   = flag.String("srtp", "", "SRTP protection profiles (RFC 5764 names), comma-separated")
	exportFlag = flag.String("export", "", "LABEL:LEN of keying material to export after the handshake (no context)")
)

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

// srtpOptions: the options the -alpn and -srtp flags ask for.
func srtpOptions() []dtls.Option {
	var opts []dtls.Option
	if *alpnFlag != "" {
		opts = append(opts, dtls.WithSupportedProtocols(strings.Split(*alpnFlag, ",")...))
	}
	if *srtpFlag != "" {
		var ps []dtls.SRTPProtectionProfile
		for _, n := range strings.Split(*srtpFlag, ",") {
			ps = append(ps, srtpByName(n))
		}
		opts = append(opts, dtls.WithSRTPProtectionProfiles(ps...))
	}
	return opts
}

// reportSRTP prints what ALPN and use_srtp agreed and the exported block.
func reportSRTP(conn *dtls.Conn, state dtls.State) {
	if state.NegotiatedProtocol != "" {
		fmt.Printf("pion: alpn=%s\n", state.NegotiatedProtocol)
	}
	if p, ok := conn.SelectedSRTPProtectionProfile(); ok {
		fmt.Printf("pion: srtp=0x%04X\n", uint16(p))
	}
	if *exportFlag == "" {
		return
	}
	i := strings.LastIndex(*exportFlag, ":")
	if i < 0 {
		fail("bad -export %s", *exportFlag)
	}
	n, err := strconv.Atoi((*exportFlag)[i+1:])
	if err != nil {
		fail("bad -export %s", *exportFlag)
	}
	km, err := state.ExportKeyingMaterial((*exportFlag)[:i], nil, n)
	if err != nil {
		fail("export: %v", err)
	}
	fmt.Printf("pion: export=%X\n", km)
}
