
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Sync delivery: the fan-out runs on the client's request, which is
 * answered when the last outbound request is over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_sync.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_dedup.h"


static void ngx_http_kochava_sync_done(ngx_http_kochava_fanout_t *f);
static ngx_int_t ngx_http_kochava_sync_answer(ngx_http_request_t *r,
    ngx_http_kochava_fanout_t *f);


ngx_int_t
ngx_http_kochava_sync_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    uint32_t                    i;
    ngx_http_kochava_fanout_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_fanout_t));
    if (f == NULL) {
        goto failed;
    }

    f->request = r;
    f->outs = ctx->result.outs;
    f->nouts = ctx->result.nouts;
    f->app_id = ctx->app_id;
    f->done = ngx_http_kochava_sync_done;
    f->data = ctx;

    if (ngx_http_kochava_fanout_start(f) != NGX_OK) {
        goto failed;
    }

    return NGX_DONE;

failed:

    /* nothing was sent (answered 500): the client's retry is to go */

    for (i = 0; i < ctx->result.nouts; i++) {
        ngx_http_kochava_dedup_release(r, &ctx->app_id, &ctx->result.outs[i]);
    }

    return NGX_ERROR;
}


static void
ngx_http_kochava_sync_done(ngx_http_kochava_fanout_t *f)
{
    ngx_http_finalize_request(f->request,
                              ngx_http_kochava_sync_answer(f->request, f));
}


/*
 * Sync delivery: a retryable failure anywhere makes the SDK keep the call
 * and send it again (503 + Retry-After); permanent failures cannot be
 * helped by a retry and are answered 200.
 */

static ngx_int_t
ngx_http_kochava_sync_answer(ngx_http_request_t *r,
    ngx_http_kochava_fanout_t *f)
{
    ngx_uint_t               failed;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = f->data;

    failed = f->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
             + f->outcomes[KOCHAVA_OUTCOME_TIMEOUT];

    if (failed && f->spooled == failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %ui outbound requests failed and "
                      "were spooled, answered 200", failed,
                      f->nouts);

    } else if (failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %ui outbound requests failed and "
                      "may succeed later, answered 503", failed,
                      f->nouts);

        return ngx_http_kochava_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "Upstream unavailable");
    }

    if (ctx->result.held) {
        return ngx_http_kochava_sync_held(r, ctx);
    }

    return ngx_http_kochava_send_result(r, &ctx->result);
}


/*
 * Messages of the request were not sent: a copy of each is in flight
 * under another request, which may still fail.  A 200 would make the SDK
 * drop them; 503 + Retry-After makes it send them again, when the copy
 * is delivered (a duplicate then) or released (forwarded then).
 */

ngx_int_t
ngx_http_kochava_sync_held(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "kochava: %uD messages not sent, a copy of each is in "
                  "flight under another request: answered 503",
                  ctx->result.held);

    return ngx_http_kochava_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "Message in flight");
}
