/*
 * cdtls — DTLS 1.2 with pluggable crypto providers and per-datagram OOB data.
 * The umbrella header: include this, link -lcdtls and the provider's library
 * (pkg-config --libs --static cdtls).
 */
#ifndef CDTLS_CDTLS_H
#define CDTLS_CDTLS_H

#include "cdtls/alloc.h"
#include "cdtls/config.h"
#include "cdtls/conn.h"
#include "cdtls/error.h"
#include "cdtls/export.h"
#include "cdtls/oob.h"
#include "cdtls/prf.h"
#include "cdtls/provider.h"
#include "cdtls/srtp.h"
#include "cdtls/suites.h"
#include "cdtls/x509.h"

#define CDTLS_VERSION_STRING "0.1.0"

#endif /* CDTLS_CDTLS_H */
