#include <string.h>

#include "cdtls/config.h"

void cdtls_config_init(cdtls_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->extended_master_secret = CDTLS_EMS_REQUEST;
    cfg->encrypt_then_mac = 1;
    cfg->mtu = 1200;
    cfg->retransmit_initial_ms = 1000; /* RFC 6347 §4.2.4.1: 1 s initial */
    cfg->retransmit_max_ms = 60000;    /* RFC 6347 §4.2.4.1: at least 60 s cap */
    cfg->handshake_timeout_ms = 60000;
    cfg->replay_window = 64;
    cfg->max_handshake_message = 64u * 1024u;
    cfg->max_handshake_buffer = 256u * 1024u;
    cfg->max_early_records = 8;
    cfg->cookie_exchange = 1;
    cfg->cookie_rotate_ms = 30000;
    cfg->session_lifetime_ms = 24u * 3600u * 1000u;
}
