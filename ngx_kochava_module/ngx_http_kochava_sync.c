
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Sync delivery: the client's request waits for its fan-out.
 *
 * Over HTTP/2 (and 3) a stream that is reset or closed sets its
 * connection's error, and nginx terminates the request, with every
 * subrequest in flight, when the next of them is finalized.  There the
 * fan-out runs offloaded (ngx_http_kochava_offload.c): its tally goes to
 * the waiting request, which is answered from a posted event; a request
 * that is gone by then (its pool's cleanup unlinked it) is answered by
 * nobody.  Over HTTP/1.x nothing ends a request whose body was read
 * while its subrequests run (a closed connection goes unnoticed until
 * the answer is written), so the fan-out runs on the client's request
 * itself, without the copies and the detached request of the offload.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_sync.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_offload.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_dedup.h"


typedef struct ngx_http_kochava_sync_run_s  ngx_http_kochava_sync_run_t;


/* in the client's pool: the client's request, waiting */
typedef struct {
    ngx_http_request_t            *request;
    ngx_http_kochava_sync_run_t   *run;          /* NULL: over */
    ngx_event_t                    event;        /* the answer */

    /* the fan-out's tally */
    ngx_uint_t                     nouts;
    ngx_uint_t                     failed;       /* retryably */
    ngx_uint_t                     spooled;
} ngx_http_kochava_sync_wait_t;


/* in the detached request's pool: the fan-out */
struct ngx_http_kochava_sync_run_s {
    ngx_http_kochava_offload_t     offload;      /* first */
    ngx_http_kochava_sync_wait_t  *wait;         /* NULL: client gone */
};


static ngx_int_t ngx_http_kochava_sync_inline(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static void ngx_http_kochava_sync_inline_done(ngx_http_kochava_fanout_t *f);
static void ngx_http_kochava_sync_done(ngx_http_kochava_offload_t *o);
static void ngx_http_kochava_sync_cleanup(ngx_http_kochava_offload_t *o);
static void ngx_http_kochava_sync_unwait(void *data);
static void ngx_http_kochava_sync_answer(ngx_event_t *ev);
static ngx_int_t ngx_http_kochava_sync_reply(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, ngx_uint_t nouts, ngx_uint_t failed,
    ngx_uint_t spooled);
static void ngx_http_kochava_sync_release(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


ngx_int_t
ngx_http_kochava_sync_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_kochava_offload_t    *o;
    ngx_http_kochava_sync_run_t   *run;
    ngx_http_kochava_sync_wait_t  *w;

    if (r->http_version < NGX_HTTP_VERSION_20) {
        return ngx_http_kochava_sync_inline(r, ctx);
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_sync_wait_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (w == NULL || cln == NULL) {
        ngx_http_kochava_sync_release(r, ctx);
        return NGX_ERROR;
    }

    run = (ngx_http_kochava_sync_run_t *)
              ngx_http_kochava_offload_create(r, ctx,
                                          sizeof(ngx_http_kochava_sync_run_t));
    if (run == NULL) {
        ngx_http_kochava_sync_release(r, ctx);
        return NGX_ERROR;
    }

    o = &run->offload;
    o->done = ngx_http_kochava_sync_done;
    o->cleanup = ngx_http_kochava_sync_cleanup;

    run->wait = w;

    w->request = r;
    w->run = run;
    w->event.handler = ngx_http_kochava_sync_answer;
    w->event.data = w;
    w->event.log = r->connection->log;

    cln->handler = ngx_http_kochava_sync_unwait;
    cln->data = w;

    if (ngx_http_kochava_offload_start(o) != NGX_OK) {
        w->run = NULL;
        run->wait = NULL;
        ngx_http_kochava_offload_free(o);
        ngx_http_kochava_sync_release(r, ctx);
        return NGX_ERROR;
    }

    return NGX_DONE;
}


/* HTTP/1.x: the fan-out on the client's request */

static ngx_int_t
ngx_http_kochava_sync_inline(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_http_kochava_fanout_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_fanout_t));
    if (f == NULL) {
        ngx_http_kochava_sync_release(r, ctx);
        return NGX_ERROR;
    }

    f->request = r;
    f->outs = ctx->result.outs;
    f->nouts = ctx->result.nouts;
    f->app_id = ctx->app_id;
    f->done = ngx_http_kochava_sync_inline_done;
    f->data = ctx;

    if (ngx_http_kochava_fanout_start(f) != NGX_OK) {
        ngx_http_kochava_sync_release(r, ctx);
        return NGX_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_kochava_sync_inline_done(ngx_http_kochava_fanout_t *f)
{
    ngx_http_finalize_request(f->request,
        ngx_http_kochava_sync_reply(f->request, f->data, f->nouts,
                                    f->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
                                    + f->outcomes[KOCHAVA_OUTCOME_TIMEOUT],
                                    f->spooled));
}


/* nothing was sent (answered 500): the client's retry is to go */

static void
ngx_http_kochava_sync_release(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    uint32_t  i;

    for (i = 0; i < ctx->result.nouts; i++) {
        ngx_http_kochava_dedup_release(r, &ctx->app_id, &ctx->result.outs[i]);
    }
}


/* the fan-out is over: its tally to the client's request, if it waits */

static void
ngx_http_kochava_sync_done(ngx_http_kochava_offload_t *o)
{
    ngx_http_kochava_sync_run_t *run = (ngx_http_kochava_sync_run_t *) o;

    ngx_http_kochava_fanout_t     *f;
    ngx_http_kochava_sync_wait_t  *w;

    f = &o->fanout;
    w = run->wait;

    if (w == NULL || w->request->connection->error) {
        ngx_log_error(NGX_LOG_INFO, f->request->connection->log, 0,
                      "kochava: fan-out of %ui requests over after its "
                      "client went away: %ui delivered, %ui refused, "
                      "%ui failed", f->nouts,
                      f->outcomes[KOCHAVA_OUTCOME_OK],
                      f->outcomes[KOCHAVA_OUTCOME_PERMANENT],
                      f->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
                      + f->outcomes[KOCHAVA_OUTCOME_TIMEOUT]);
    }

    if (w == NULL) {
        return;
    }

    w->nouts = f->nouts;
    w->failed = f->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
                + f->outcomes[KOCHAVA_OUTCOME_TIMEOUT];
    w->spooled = f->spooled;

    w->run = NULL;
    run->wait = NULL;

    ngx_post_event(&w->event, &ngx_posted_events);
}


/* the detached request goes: the client, if it still waits, is told */

static void
ngx_http_kochava_sync_cleanup(ngx_http_kochava_offload_t *o)
{
    ngx_http_kochava_sync_run_t *run = (ngx_http_kochava_sync_run_t *) o;

    ngx_http_kochava_sync_wait_t  *w;

    w = run->wait;

    if (w == NULL) {
        return;
    }

    /* ended before its fan-out did (no memory): nothing is known */

    w->nouts = o->fanout.nouts;
    w->failed = o->fanout.nouts;
    w->spooled = 0;

    w->run = NULL;
    run->wait = NULL;

    ngx_post_event(&w->event, &ngx_posted_events);
}


/* the client's request is freed: nobody waits for the fan-out any more */

static void
ngx_http_kochava_sync_unwait(void *data)
{
    ngx_http_kochava_sync_wait_t *w = data;

    if (w->run) {
        w->run->wait = NULL;
        w->run = NULL;
    }

    if (w->event.posted) {
        ngx_delete_posted_event(&w->event);
    }
}


/* the offloaded fan-out's tally came: the answer */

static void
ngx_http_kochava_sync_answer(ngx_event_t *ev)
{
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_kochava_sync_wait_t  *w;

    w = ev->data;
    r = w->request;
    c = r->connection;

    rc = ngx_http_kochava_sync_reply(r,
                          ngx_http_get_module_ctx(r, ngx_http_kochava_module),
                          w->nouts, w->failed, w->spooled);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * A retryable failure anywhere makes the SDK keep the call and send it
 * again (503 + Retry-After); permanent failures cannot be helped by a
 * retry and are answered 200.
 */

static ngx_int_t
ngx_http_kochava_sync_reply(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, ngx_uint_t nouts, ngx_uint_t failed,
    ngx_uint_t spooled)
{
    if (failed && spooled == failed && !ctx->result.held) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %ui outbound requests failed and "
                      "were spooled, answered 200", failed, nouts);

        return ngx_http_kochava_send_result(r, &ctx->result);
    }

    if (failed && spooled != failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %ui outbound requests failed and "
                      "may succeed later, answered 503", failed, nouts);

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
