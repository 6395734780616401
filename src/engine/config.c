#include <string.h>

#include "cdtls/config.h"

void cdtls_config_init_sized(cdtls_config *cfg, size_t size)
{
    if (!cfg || size < sizeof(cdtls_config)) return; /* a smaller caller struct is only read, never filled */
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->mtu = 1200;
    cfg->negotiate.ems = CDTLS_EMS_REQUEST;
    cfg->negotiate.encrypt_then_mac = 1;
    cfg->timers.retransmit_initial_ms = 1000; /* RFC 6347 §4.2.4.1: 1 s initial */
    cfg->timers.retransmit_max_ms = 60000;    /* RFC 6347 §4.2.4.1: at least 60 s cap */
    cfg->timers.handshake_timeout_ms = 60000;
    cfg->limits.replay_window = 64;
    cfg->limits.max_handshake_message = 64u * 1024u;
    cfg->limits.max_handshake_buffer = 256u * 1024u;
    cfg->limits.max_early_records = 8;
    cfg->cookie.exchange = 1;
    cfg->cookie.rotate_ms = 30000;
    cfg->resumption.lifetime_ms = 24u * 3600u * 1000u;
    cfg->listener.max_half_open_per_source = CDTLS_LISTENER_HALF_OPEN_PER_SOURCE;
    cfg->listener.handshake_budget = CDTLS_LISTENER_HANDSHAKE_BUDGET;
}
