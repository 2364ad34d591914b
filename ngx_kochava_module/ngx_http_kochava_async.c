
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Async delivery.  Background subrequests of the client's request would
 * keep its connection busy until the last upstream answered: the next
 * request on a keepalive connection would wait behind a slow Kochava.  So
 * the fan-out runs offloaded (ngx_http_kochava_offload.c), on a detached
 * request of its own carrying copies of the outbound bodies.
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
#include "ngx_http_kochava_offload.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_ratelimit.h"


typedef struct {
    ngx_http_kochava_offload_t    offload;        /* first */
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
static void ngx_http_kochava_async_done(ngx_http_kochava_offload_t *o);
static void ngx_http_kochava_async_cleanup(ngx_http_kochava_offload_t *o);
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

    /*
     * In the journal, an output is as good as delivered: the replay sends
     * what the fan-out does not (a crash, a reload, a retryable failure).
     * Its ids are confirmed before the answer, so a copy meeting them is
     * a duplicate for the whole ttl, not only while this fan-out runs.
     */

    if (ctx->journal.file) {
        ngx_http_kochava_dedup_confirm_all(r, ctx);
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
    ngx_http_kochava_offload_t   *o;
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

    a = (ngx_http_kochava_async_t *)
            ngx_http_kochava_offload_create(r, ctx,
                                            sizeof(ngx_http_kochava_async_t));
    if (a == NULL) {
        ngx_http_kochava_spool_all(r, ctx, "no memory");
        return;
    }

    o = &a->offload;
    o->done = ngx_http_kochava_async_done;
    o->cleanup = ngx_http_kochava_async_cleanup;

    /* the journal goes with the fan-out */
    o->ctx.journal = ctx->journal;
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
                   "%uz bytes", o->ctx.result.nouts,
                   ngx_http_kochava_async_n,
                   ngx_http_kochava_async_bytes);

    o->fanout.on_disk = (o->ctx.journal.file != NULL);
    o->fanout.durable = (o->fanout.on_disk && klcf->spool->fsync);

    if (ngx_http_kochava_offload_start(o) != NGX_OK) {
        ctx->journal = o->ctx.journal;
        o->ctx.journal.file = NULL;
        ngx_http_kochava_offload_free(o);
        ngx_http_kochava_spool_all(r, ctx, "no memory");
    }
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


/*
 * The fan-out is over (from the detached request's posted write handler):
 * its journal records are marked done.
 */

static void
ngx_http_kochava_async_done(ngx_http_kochava_offload_t *o)
{
    u_char                     *done;
    ngx_uint_t                  i;
    ngx_http_kochava_sr_t      *s;
    ngx_http_kochava_fanout_t  *f;

    f = &o->fanout;

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

    if (o->ctx.journal.file) {
        done = ngx_pnalloc(f->request->pool, f->nouts);

        if (done) {
            for (i = 0; i < f->nouts; i++) {
                s = &f->srs[i];
                done[i] = (s->state == NGX_HTTP_KOCHAVA_MSG_DONE || s->record);
            }
        }

        ngx_http_kochava_journal_done(&o->ctx.journal, done,
                                      f->request->connection->log);
    }
}


/* runs however the detached request's pool goes away */

static void
ngx_http_kochava_async_cleanup(ngx_http_kochava_offload_t *o)
{
    ngx_http_kochava_async_t *a = (ngx_http_kochava_async_t *) o;

    if (o->ctx.journal.file) {
        /* ended before its fan-out did: its records stay for the replay */
        ngx_http_kochava_journal_done(&o->ctx.journal, NULL, ngx_cycle->log);
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
    kochava_out_t                *out;
    ngx_http_kochava_loc_conf_t  *klcf;

    if (ctx->journal.file) {
        /* on disk already: the journal records stay for the replay */

        klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

        for (i = 0; i < ctx->result.nouts; i++) {
            ngx_http_kochava_dedup_confirm(r, &ctx->app_id,
                                           &ctx->result.outs[i]);
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
        out = &ctx->result.outs[i];

        if (ngx_http_kochava_fanout_spool(r, out, why)) {
            ngx_http_kochava_dedup_confirm(r, &ctx->app_id, out);
            spooled++;

        } else {
            ngx_http_kochava_dedup_release(r, &ctx->app_id, out);
        }
    }

    ngx_http_kochava_ratelimit_log(&ngx_http_kochava_async_not_started,
                                   NGX_LOG_WARN, r->connection->log, 0,
                                   "kochava: async fan-out not started (%s), "
                                   "%uD of %uD requests spooled", why, spooled,
                                   ctx->result.nouts);
}
