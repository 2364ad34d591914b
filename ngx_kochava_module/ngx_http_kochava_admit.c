
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Admission, between the core and the deliverer.  Without a fleet store
 * the core's outputs go to delivery as they are (the local zone judged
 * them already, ngx_http_kochava_dedup_seen).  With "kochava_dedup_zone
 * ... store=<upstream>", the client ids the local zone let through are
 * reserved in the store first (ngx_http_kochava_store_reserve: one
 * pipelined round trip per server for all of them), and the request
 * waits for the verdicts: its body is read and nothing else holds it, so
 * the reference the body handler would have finalized with is the one
 * the store's handler finalizes with (as a sync fan-out's end does).
 *
 *   new, failed   forwarded (failed: the store did not answer, fail open)
 *   duplicate     delivered before, somewhere in the fleet: not forwarded,
 *                 de-duplicated (where="store"), confirmed locally
 *   reserved      in flight on another node: as a local reservation, a
 *                 duplicate in async mode, held in sync mode (503)
 *
 * An output is dropped when every message it carries was caught; a sync
 * output with a held id is dropped whole (the 503 makes the client send
 * it all again) and the store reservations it won are released.  An
 * output of several messages (Braze) with new ones among caught ones is
 * forwarded whole: a duplicate at Braze rather than a lost install.  The
 * store ids of the outputs kept stay in the context (ctx->store_ids) for
 * the fan-out's confirm and release.  A client that goes away meanwhile
 * ends the request: its local reservations are released, and the store's
 * expire (reserve=).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_admit.h"
#include "ngx_http_kochava_deliver.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"


typedef struct {
    ngx_http_request_t           *request;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_store_t     *store;
    unsigned                      waiting:1;
} ngx_http_kochava_admit_t;


static ngx_int_t ngx_http_kochava_admit_ids(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static void ngx_http_kochava_admit_reserved(ngx_http_request_t *r,
    void *data, ngx_http_kochava_store_id_t *ids, ngx_uint_t n);
static void ngx_http_kochava_admit_verdicts(ngx_http_request_t *r,
    ngx_http_kochava_admit_t *a);
static void ngx_http_kochava_admit_drop(ngx_http_request_t *r,
    ngx_http_kochava_admit_t *a, kochava_out_t *out,
    ngx_http_kochava_store_id_t *sids, ngx_uint_t n);
static void ngx_http_kochava_admit_cleanup(void *data);


ngx_int_t
ngx_http_kochava_admit(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_pool_cleanup_t           *cln;
    ngx_http_kochava_store_t     *store;
    ngx_http_kochava_admit_t     *a;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    store = (klcf->dedup && klcf->dedup->data)
            ? ngx_http_kochava_dedup_store(klcf->dedup) : NULL;

    if (store == NULL || ctx->result.nouts == 0) {
        return ngx_http_kochava_deliver(r, ctx);
    }

    rc = ngx_http_kochava_admit_ids(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* no client messageId: nothing to ask */
        return ngx_http_kochava_deliver(r, ctx);
    }

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_admit_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (a == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a->request = r;
    a->ctx = ctx;
    a->store = store;

    cln->handler = ngx_http_kochava_admit_cleanup;
    cln->data = a;

    rc = ngx_http_kochava_store_reserve(r, store, ctx->store_ids,
                                        ctx->store_first[ctx->result.nouts],
                                        ngx_http_kochava_admit_reserved, a);

    if (rc == NGX_AGAIN) {
        a->waiting = 1;
        return NGX_DONE;
    }

    /*
     * NGX_OK: no server could be asked; NGX_ERROR: no memory for the
     * call.  The ids are "failed" either way: forwarded (fail open).
     */

    ngx_http_kochava_admit_verdicts(r, a);

    return ngx_http_kochava_deliver(r, ctx);
}


/*
 * The store ids of the outputs' client messageIds, in order, into ctx.
 * NGX_DECLINED when there is none.
 */

static ngx_int_t
ngx_http_kochava_admit_ids(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    uint32_t                      i, j, k, n;
    kochava_out_t                *out;
    ngx_http_kochava_store_id_t  *sids;

    n = 0;

    for (i = 0; i < ctx->result.nouts; i++) {
        out = &ctx->result.outs[i];

        for (j = 0; out->ids && j < out->count; j++) {
            n += (out->ids[j].data != NULL);
        }
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    ctx->store_first = ngx_palloc(r->pool,
                                  (ctx->result.nouts + 1) * sizeof(uint32_t));
    sids = ngx_palloc(r->pool, n * sizeof(ngx_http_kochava_store_id_t));

    if (ctx->store_first == NULL || sids == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (i = 0; i < ctx->result.nouts; i++) {
        out = &ctx->result.outs[i];
        ctx->store_first[i] = k;

        for (j = 0; out->ids && j < out->count; j++) {
            if (out->ids[j].data) {
                /* "failed" until the store says otherwise: fail open */
                ngx_http_kochava_store_id(&sids[k++], &ctx->app_id,
                                          out->ids[j].data, out->ids[j].len);
            }
        }
    }

    ctx->store_first[i] = k;
    ctx->store_ids = sids;

    return NGX_OK;
}


/* the store answered (or failed): the verdicts, then delivery */

static void
ngx_http_kochava_admit_reserved(ngx_http_request_t *r, void *data,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_http_kochava_admit_t *a = data;

    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = r->connection;
    a->waiting = 0;

    ngx_http_kochava_admit_verdicts(r, a);

    rc = ngx_http_kochava_deliver(r, a->ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }

    /* the fan-out's subrequests, posted from the store's event */
    ngx_http_run_posted_requests(c);
}


/*
 * Drops the outputs the fleet caught, counts them, and compacts the
 * outputs and their store ids in place (out i's ids start at or after
 * where the kept ones are moved, so nothing is overwritten before it is
 * read).
 */

static void
ngx_http_kochava_admit_verdicts(ngx_http_request_t *r,
    ngx_http_kochava_admit_t *a)
{
    uint32_t                      i, j, w, ws, from, to, dup, held;
    ngx_uint_t                    async, d, h;
    kochava_out_t                *out;
    kochava_result_t             *res;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_store_id_t  *sids;
    ngx_http_kochava_loc_conf_t  *klcf;

    ctx = a->ctx;
    res = &ctx->result;
    sids = ctx->store_ids;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);
    async = (klcf->delivery == NGX_HTTP_KOCHAVA_ASYNC);

    w = 0;
    ws = 0;
    dup = 0;
    held = 0;

    for (i = 0; i < res->nouts; i++) {
        out = &res->outs[i];
        from = ctx->store_first[i];
        to = ctx->store_first[i + 1];

        d = 0;
        h = 0;

        for (j = from; j < to; j++) {
            d += (sids[j].verdict == NGX_HTTP_KOCHAVA_STORE_DUPLICATE);
            h += (sids[j].verdict == NGX_HTTP_KOCHAVA_STORE_RESERVED);
        }

        if (h && !async) {
            held += out->count;
            ngx_http_kochava_admit_drop(r, a, out, &sids[from], to - from);
            continue;
        }

        if (d + h && d + h == out->count) {
            dup += out->count;
            ngx_http_kochava_admit_drop(r, a, out, &sids[from], to - from);
            continue;
        }

        if (d + h) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "kochava: a %s request carries %ui messages the "
                          "fleet has seen among %uD: sent whole",
                          kochava_dest_name(out->dest), d + h, out->count);
        }

        /* kept */

        res->outs[w] = *out;
        ctx->store_first[w] = ws;

        if (ws != from) {
            ngx_memmove(&sids[ws], &sids[from],
                        (to - from) * sizeof(ngx_http_kochava_store_id_t));
        }

        ws += to - from;
        w++;
    }

    ctx->store_first[w] = ws;
    res->nouts = w;

    res->deduplicated += dup;
    res->held += held;

    ngx_http_kochava_metrics_deduplicated(NGX_HTTP_KOCHAVA_DEDUP_STORE, dup);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kochava: the fleet store caught %uD duplicates, %uD "
                   "held; %uD outbound requests left", dup, held, w);
}


/*
 * An output not to be sent: its ids known delivered are confirmed in the
 * local zone, the others released there, and the store reservations it
 * won released.
 */

static void
ngx_http_kochava_admit_drop(ngx_http_request_t *r,
    ngx_http_kochava_admit_t *a, kochava_out_t *out,
    ngx_http_kochava_store_id_t *sids, ngx_uint_t n)
{
    uint32_t    j;
    ngx_uint_t  k, won;

    k = 0;
    won = 0;

    for (j = 0; j < out->count && k < n; j++) {
        if (out->ids[j].data == NULL) {
            continue;
        }

        ngx_http_kochava_dedup_local(r, &a->ctx->app_id, &out->ids[j],
                                     sids[k].verdict
                                     == NGX_HTTP_KOCHAVA_STORE_DUPLICATE);

        won += (sids[k].cas != 0);
        k++;
    }

    if (won) {
        ngx_http_kochava_store_release(a->store, sids, n);
    }
}


/*
 * The request ends (a client that went away) while the store is asked:
 * nothing of it was sent, its local reservations go; its store
 * reservations were not learnt (the call is cancelled) and expire.
 */

static void
ngx_http_kochava_admit_cleanup(void *data)
{
    ngx_http_kochava_admit_t *a = data;

    uint32_t                 i, j;
    kochava_out_t           *out;
    ngx_http_kochava_ctx_t  *ctx;

    if (!a->waiting) {
        return;
    }

    a->waiting = 0;
    ctx = a->ctx;

    ngx_log_error(NGX_LOG_INFO, a->request->connection->log, 0,
                  "kochava: the request ended while the dedup store was "
                  "asked: its %uD outbound requests were not sent",
                  ctx->result.nouts);

    for (i = 0; i < ctx->result.nouts; i++) {
        out = &ctx->result.outs[i];

        for (j = 0; out->ids && j < out->count; j++) {
            if (out->ids[j].data) {
                ngx_http_kochava_dedup_local(a->request, &ctx->app_id,
                                             &out->ids[j], 0);
            }
        }
    }
}
