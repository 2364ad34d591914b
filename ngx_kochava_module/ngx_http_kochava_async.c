
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Async delivery.  Background subrequests of the client's request would
 * keep its connection busy until the last upstream answered: the next
 * request on a keepalive connection would wait behind a slow Kochava.  So
 * the fan-out runs on a detached request of its own
 * (ngx_http_kochava_detached.c), carrying copies of the outbound bodies.
 *
 * Acceptance is write-ahead: the outbound records are appended to the
 * location's spool (one write) before the client's 200, and marked done
 * when the fan-out is over with them (ngx_http_kochava_spool.c); what is
 * not marked done when a worker dies is sent by kochava-replay.  When the
 * last outbound request is over the detached request is freed from a
 * posted event.
 *
 * In-flight upstream requests keep their (non-cancelable) timers, so a
 * worker that is told to quit or reload finishes them before it exits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_async.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_detached.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_ratelimit.h"


typedef struct {
    ngx_http_kochava_ctx_t        ctx;            /* the detached request's */
    ngx_http_kochava_fanout_t     fanout;
    ngx_event_t                   free;
    size_t                        bytes;          /* of the bodies */
    ngx_uint_t                    conns;          /* it may take */
    unsigned                      counted:1;
} ngx_http_kochava_async_t;


/* fsync=on: a client request waiting for the group commit */
typedef struct {
    ngx_http_kochava_journal_wait_t   wait;
    ngx_event_t                       event;
    ngx_http_request_t               *request;
} ngx_http_kochava_async_wait_t;


static void ngx_http_kochava_async_run(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static void ngx_http_kochava_async_synced(ngx_event_t *ev);
static void ngx_http_kochava_async_unwait(void *data);
static ngx_http_kochava_async_t *ngx_http_kochava_async_create(
    ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx);
static ngx_int_t ngx_http_kochava_copy_outs(ngx_pool_t *pool,
    kochava_result_t *to, kochava_result_t *from);
static ngx_int_t ngx_http_kochava_copy_ids(ngx_pool_t *pool,
    kochava_out_t *out);
static void ngx_http_kochava_async_done(ngx_http_kochava_fanout_t *f);
static void ngx_http_kochava_async_free(ngx_event_t *ev);
static void ngx_http_kochava_async_cleanup(void *data);
static void ngx_http_kochava_spool_all(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, const char *why);


/*
 * Fan-outs of this worker still running, the bytes they hold and the
 * connections they may take (their own and kochava_concurrency upstream
 * ones each).
 */
static ngx_uint_t  ngx_http_kochava_async_n;
static size_t      ngx_http_kochava_async_bytes;
static ngx_uint_t  ngx_http_kochava_async_conns;

/* "fan-out not started" comes once per request under load: limited */
static ngx_http_kochava_ratelimit_t  ngx_http_kochava_async_not_started;


/*
 * Writes ctx's outputs ahead and starts their fan-out without the
 * client.  Afterwards every output is on its way, in the spool, or (the
 * spool refused it) counted and logged.  Returns NGX_OK (the client is
 * to be answered now), or NGX_DONE (fsync=on: it is answered once the
 * records are on disk).
 */

ngx_int_t
ngx_http_kochava_async_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    uint32_t                        i;
    ngx_str_t                       uris[KOCHAVA_NDESTS];
    ngx_pool_cleanup_t             *cln;
    ngx_http_kochava_loc_conf_t    *klcf;
    ngx_http_kochava_async_wait_t  *w;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    /*
     * Write-ahead: the outputs are on disk before the client is answered;
     * each is marked done when the fan-out is over with it.  A spool
     * that cannot take them (full, failing) leaves the fan-out without
     * its journal (logged and counted): the edge stays up.
     */

    if (klcf->spool) {
        for (i = 0; i < KOCHAVA_NDESTS; i++) {
            uris[i] = klcf->pass[i].uri;
        }

        (void) ngx_http_kochava_journal_write(klcf->spool, ctx->result.outs,
                                              ctx->result.nouts, uris,
                                              &ctx->journal,
                                              r->connection->log);
    }

    if (ctx->journal.file == NULL || !klcf->spool->fsync) {
        ngx_http_kochava_async_run(r, ctx);
        return NGX_OK;
    }

    /* fsync=on: the answer waits for the group commit */

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_async_wait_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (w == NULL || cln == NULL) {
        ngx_http_kochava_async_run(r, ctx);
        return NGX_ERROR;
    }

    w->request = r;
    w->wait.event = &w->event;
    w->event.handler = ngx_http_kochava_async_synced;
    w->event.data = w;
    w->event.log = r->connection->log;

    cln->handler = ngx_http_kochava_async_unwait;
    cln->data = w;

    if (ngx_http_kochava_journal_sync(&ctx->journal, &w->wait,
                                      r->connection->log)
        != NGX_OK)
    {
        /* logged by the spool */
        w->wait.rc = NGX_ERROR;
        ngx_post_event(&w->event, &ngx_posted_events);
    }

    ngx_http_kochava_async_run(r, ctx);

    return NGX_DONE;
}


/* the fan-out of ctx's outputs, on a detached request or not at all */

static void
ngx_http_kochava_async_run(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    size_t                        bytes;
    uint32_t                      i;
    ngx_uint_t                    conns;
    ngx_http_kochava_async_t     *a;
    ngx_http_kochava_fanout_t    *f;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    bytes = 0;

    for (i = 0; i < ctx->result.nouts; i++) {
        bytes += ctx->result.outs[i].len;
    }

    conns = ngx_min(ctx->result.nouts, klcf->concurrency) + 1;

    /*
     * A fan-out holds its bodies in memory and takes connections: past
     * kochava_async_backlog bytes, or past a quarter of the worker's
     * connections (the rest are the clients' and the upstream keepalive
     * caches'), the outputs go straight to the spool.
     */

    if (ngx_http_kochava_async_bytes + bytes > klcf->async_backlog
        || ngx_http_kochava_async_conns + conns
           > ngx_cycle->connection_n / 4
        || ngx_cycle->free_connection_n < conns + 1)
    {
        ngx_http_kochava_spool_all(r, ctx, "async backlog full");
        return;
    }

    a = ngx_http_kochava_async_create(r, ctx);
    if (a == NULL) {
        ngx_http_kochava_spool_all(r, ctx, "no memory");
        return;
    }

    /* the journal goes with the fan-out */
    a->ctx.journal = ctx->journal;
    ctx->journal.file = NULL;

    a->bytes = bytes;
    a->conns = conns;
    a->counted = 1;
    ngx_http_kochava_metrics_async_fanouts(1);
    ngx_http_kochava_async_n++;
    ngx_http_kochava_async_bytes += bytes;
    ngx_http_kochava_async_conns += conns;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kochava: async fan-out of %uD requests, %ui running, "
                   "%uz bytes", a->ctx.result.nouts,
                   ngx_http_kochava_async_n,
                   ngx_http_kochava_async_bytes);

    f = &a->fanout;
    f->request = a->ctx.request;
    f->outs = a->ctx.result.outs;
    f->nouts = a->ctx.result.nouts;
    f->app_id = a->ctx.app_id;
    f->done = ngx_http_kochava_async_done;
    f->data = a;
    f->on_disk = (a->ctx.journal.file != NULL);
    f->durable = (f->on_disk && klcf->spool->fsync);
    f->no_client = 1;

    if (ngx_http_kochava_fanout_start(f) != NGX_OK) {
        ctx->journal = a->ctx.journal;
        a->ctx.journal.file = NULL;
        ngx_http_kochava_detached_free(f->request->connection);
        ngx_http_kochava_spool_all(r, ctx, "no memory");
        return;
    }

    /* the subrequests were posted to the detached request: run them */
    ngx_http_run_posted_requests(f->request->connection);
}


/* fsync=on: the records are on disk (or the disk failed): the answer */

static void
ngx_http_kochava_async_synced(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_kochava_ctx_t         *ctx;
    ngx_http_kochava_async_wait_t  *w;

    w = ev->data;
    r = w->request;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (w->wait.rc == NGX_OK) {
        rc = ngx_http_kochava_send_result(r, &ctx->result);

    } else {
        rc = ngx_http_kochava_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "Spool unavailable");
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_kochava_async_unwait(void *data)
{
    ngx_http_kochava_async_wait_t *w = data;

    ngx_http_kochava_journal_unwait(&w->wait);

    if (w->event.posted) {
        ngx_delete_posted_event(&w->event);
    }
}


static ngx_http_kochava_async_t *
ngx_http_kochava_async_create(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_request_t        *fr;
    ngx_http_kochava_async_t  *a;

    fr = ngx_http_kochava_detached_create(r);
    if (fr == NULL) {
        return NULL;
    }

    a = ngx_pcalloc(fr->pool, sizeof(ngx_http_kochava_async_t));
    if (a == NULL) {
        goto failed;
    }

    cln = ngx_pool_cleanup_add(fr->pool, 0);
    if (cln == NULL) {
        goto failed;
    }

    cln->handler = ngx_http_kochava_async_cleanup;
    cln->data = a;

    a->ctx.request = fr;
    a->ctx.call = ctx->call;

    /* the key of de-duplication entries */
    if (ngx_http_kochava_copy_str(fr->pool, &a->ctx.app_id, &ctx->app_id)
        != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_kochava_copy_outs(fr->pool, &a->ctx.result, &ctx->result)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_http_set_ctx(fr, &a->ctx, ngx_http_kochava_module);

    a->free.handler = ngx_http_kochava_async_free;
    a->free.data = a;
    a->free.log = fr->connection->log;

    return a;

failed:

    ngx_http_kochava_detached_free(fr->connection);
    return NULL;
}


/* the outputs outlive the client's pool: bodies and ids are copied */

static ngx_int_t
ngx_http_kochava_copy_outs(ngx_pool_t *pool, kochava_result_t *to,
    kochava_result_t *from)
{
    u_char         *p;
    uint32_t        i;
    kochava_out_t  *out;

    *to = *from;
    to->rejects = NULL;
    to->rejected = 0;

    to->outs = ngx_palloc(pool, from->nouts * sizeof(kochava_out_t));
    if (to->outs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < from->nouts; i++) {
        out = &to->outs[i];
        *out = from->outs[i];

        p = ngx_pnalloc(pool, out->len + out->message_id_len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, out->body, out->len);
        out->body = (const char *) p;

        if (out->message_id) {
            ngx_memcpy(p + out->len, out->message_id, out->message_id_len);
            out->message_id = (const char *) p + out->len;
        }

        if (out->ids
            && ngx_http_kochava_copy_ids(pool, out) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_copy_ids(ngx_pool_t *pool, kochava_out_t *out)
{
    u_char        *p;
    uint32_t       i;
    kochava_id_t  *ids;

    ids = ngx_palloc(pool, out->count * sizeof(kochava_id_t));
    if (ids == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < out->count; i++) {
        ids[i] = out->ids[i];

        if (ids[i].data == NULL || ids[i].len == 0) {
            continue;
        }

        p = ngx_pnalloc(pool, ids[i].len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, ids[i].data, ids[i].len);
        ids[i].data = (const char *) p;
    }

    out->ids = ids;

    return NGX_OK;
}


/*
 * The fan-out is over (from the detached request's posted write handler):
 * its journal records are marked done, and the request is freed from a
 * posted event, once nothing of it is on the stack.
 */

static void
ngx_http_kochava_async_done(ngx_http_kochava_fanout_t *f)
{
    ngx_http_kochava_async_t *a = f->data;

    u_char                 *done;
    ngx_uint_t              i;
    ngx_http_kochava_sr_t  *s;

    ngx_log_error(NGX_LOG_INFO, f->request->connection->log, 0,
                  "kochava: async fan-out of %ui requests over: "
                  "%ui delivered, %ui refused, %ui failed, "
                  "%ui of them spooled", f->nouts,
                  f->outcomes[KOCHAVA_OUTCOME_OK],
                  f->outcomes[KOCHAVA_OUTCOME_PERMANENT],
                  f->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
                  + f->outcomes[KOCHAVA_OUTCOME_TIMEOUT],
                  f->spooled);

    /*
     * Done: delivered, refused for good, or written again as a failure
     * record.  The rest stays in the journal for the replay.  No memory
     * for the marks marks nothing: sent again, at least once.
     */

    if (a->ctx.journal.file) {
        done = ngx_pnalloc(f->request->pool, f->nouts);

        if (done) {
            for (i = 0; i < f->nouts; i++) {
                s = &f->srs[i];
                done[i] = (s->state == NGX_HTTP_KOCHAVA_MSG_DONE || s->record);
            }
        }

        ngx_http_kochava_journal_done(&a->ctx.journal, done,
                                      f->request->connection->log);
    }

    ngx_post_event(&a->free, &ngx_posted_events);
}


static void
ngx_http_kochava_async_free(ngx_event_t *ev)
{
    ngx_http_kochava_async_t *a = ev->data;

    if (a->ctx.request->count != 1) {
        /* a subrequest is still being finalized: look again later */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kochava: detached request count %d, waiting",
                       a->ctx.request->count);
        ngx_add_timer(ev, 10);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kochava: async fan-out over");

    ngx_http_kochava_detached_free(a->ctx.request->connection);
}


/* runs however the detached request's pool goes away */

static void
ngx_http_kochava_async_cleanup(void *data)
{
    ngx_http_kochava_async_t *a = data;

    if (a->free.posted) {
        ngx_delete_posted_event(&a->free);
    }

    if (a->free.timer_set) {
        ngx_del_timer(&a->free);
    }

    if (a->ctx.journal.file) {
        /* ended before its fan-out did: its records stay for the replay */
        ngx_http_kochava_journal_done(&a->ctx.journal, NULL, ngx_cycle->log);
    }

    if (a->counted) {
        a->counted = 0;
        ngx_http_kochava_metrics_async_fanouts(-1);
        ngx_http_kochava_async_n--;
        ngx_http_kochava_async_bytes -= a->bytes;
        ngx_http_kochava_async_conns -= a->conns;
    }
}


/* no fan-out: every output goes to the spool as it is */

static void
ngx_http_kochava_spool_all(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, const char *why)
{
    uint32_t                      i, spooled;
    ngx_http_kochava_loc_conf_t  *klcf;

    if (ctx->journal.file) {
        /* on disk already: the journal records stay for the replay */

        klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

        for (i = 0; i < ctx->result.nouts; i++) {
            ngx_http_kochava_dedup_mark(r, &ctx->app_id, &ctx->result.outs[i]);
            ngx_http_kochava_metrics_spooled(klcf->spool->index, 0);
        }

        ngx_http_kochava_journal_done(&ctx->journal, NULL,
                                      r->connection->log);

        ngx_http_kochava_ratelimit_log(&ngx_http_kochava_async_not_started,
                                       NGX_LOG_WARN, r->connection->log, 0,
                                       "kochava: async fan-out not started "
                                       "(%s), %uD requests left in the "
                                       "spool's journal", why,
                                       ctx->result.nouts);
        return;
    }

    spooled = 0;

    for (i = 0; i < ctx->result.nouts; i++) {
        spooled += ngx_http_kochava_fanout_spool(r, &ctx->app_id,
                                                 &ctx->result.outs[i], why);
    }

    ngx_http_kochava_ratelimit_log(&ngx_http_kochava_async_not_started,
                                   NGX_LOG_WARN, r->connection->log, 0,
                                   "kochava: async fan-out not started (%s), "
                                   "%uD of %uD requests spooled", why, spooled,
                                   ctx->result.nouts);
}
