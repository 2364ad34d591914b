
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


static void ngx_http_kochava_sync_done(ngx_http_kochava_fanout_t *f);
static ngx_int_t ngx_http_kochava_sync_answer(ngx_http_request_t *r,
    ngx_http_kochava_fanout_t *f);


ngx_int_t
ngx_http_kochava_sync_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_http_kochava_fanout_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_fanout_t));
    if (f == NULL) {
        return NGX_ERROR;
    }

    f->request = r;
    f->outs = ctx->result.outs;
    f->nouts = ctx->result.nouts;
    f->app_id = ctx->app_id;
    f->done = ngx_http_kochava_sync_done;
    f->data = ctx;

    if (ngx_http_kochava_fanout_start(f) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_DONE;
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

    return ngx_http_kochava_send_result(r, &ctx->result);
}
