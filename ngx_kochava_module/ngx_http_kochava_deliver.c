
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The top of the delivery layer: the outputs of an ingest or postback
 * request go to the sync or the async deliverer, as the location's
 * kochava_delivery says, and the client is answered.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_deliver.h"
#include "ngx_http_kochava_sync.h"
#include "ngx_http_kochava_async.h"
#include "ngx_http_kochava_reply.h"


ngx_int_t
ngx_http_kochava_deliver(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (ctx->result.nouts) {

        if (klcf->delivery == NGX_HTTP_KOCHAVA_ASYNC) {
            rc = ngx_http_kochava_async_deliver(r, ctx);

        } else {
            rc = ngx_http_kochava_sync_deliver(r, ctx);
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DONE) {
            /* answered later: by the fan-out (sync), once on disk (async) */
            return NGX_DONE;
        }
    }

    if (ctx->result.held) {
        /* sync only: async holds nothing (ngx_http_kochava_dedup_seen) */
        return ngx_http_kochava_sync_held(r, ctx);
    }

    return ngx_http_kochava_send_result(r, &ctx->result);
}
