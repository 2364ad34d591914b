
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A fan-out offloaded to a detached request (ngx_http_kochava_detached.c).
 * Background subrequests of the client's request would share its fate:
 * an HTTP/2 stream that is reset sets its connection's error, and the
 * first subrequest finalized after that terminates the client's request
 * with every subrequest still in flight, unjudged, and the messages not
 * yet started, unsent.  On a request of its own the fan-out runs to its
 * end whatever the client does, and its results are recorded (de-dup,
 * metrics, spool) exactly as if the client had waited.
 *
 * The outputs are copied into the detached request's pool, which outlives
 * the client's.  When the fan-out is over, the owner's done() runs and
 * the detached request is freed from a posted event, once nothing of it
 * is on the stack.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_offload.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_detached.h"
#include "ngx_http_kochava_dedup.h"


static ngx_int_t ngx_http_kochava_copy_outs(ngx_pool_t *pool,
    kochava_result_t *to, kochava_result_t *from);
static ngx_int_t ngx_http_kochava_copy_ids(ngx_pool_t *pool,
    kochava_out_t *out);
static void ngx_http_kochava_offload_done(ngx_http_kochava_fanout_t *f);
static void ngx_http_kochava_offload_release(ngx_event_t *ev);
static void ngx_http_kochava_offload_cleanup(void *data);


ngx_http_kochava_offload_t *
ngx_http_kochava_offload_create(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, size_t size)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *fr;
    ngx_http_kochava_offload_t  *o;

    fr = ngx_http_kochava_detached_create(r);
    if (fr == NULL) {
        return NULL;
    }

    o = ngx_pcalloc(fr->pool, size);
    if (o == NULL) {
        goto failed;
    }

    cln = ngx_pool_cleanup_add(fr->pool, 0);
    if (cln == NULL) {
        goto failed;
    }

    cln->handler = ngx_http_kochava_offload_cleanup;
    cln->data = o;

    o->ctx.request = fr;
    o->ctx.call = ctx->call;

    /* the fan-out confirms and releases what the client's request took */
    if (ngx_http_kochava_dedup_copy(fr->pool, &o->ctx, ctx) != NGX_OK) {
        goto failed;
    }

    /* the key of de-duplication entries */
    if (ngx_http_kochava_copy_str(fr->pool, &o->ctx.app_id, &ctx->app_id)
        != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_kochava_copy_outs(fr->pool, &o->ctx.result, &ctx->result)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_http_set_ctx(fr, &o->ctx, ngx_http_kochava_module);

    o->fanout.request = fr;
    o->fanout.outs = o->ctx.result.outs;
    o->fanout.nouts = o->ctx.result.nouts;
    o->fanout.app_id = o->ctx.app_id;
    o->fanout.done = ngx_http_kochava_offload_done;
    o->fanout.data = o;
    o->fanout.no_client = 1;

    o->free.handler = ngx_http_kochava_offload_release;
    o->free.data = o;
    o->free.log = fr->connection->log;

    return o;

failed:

    ngx_http_kochava_detached_free(fr->connection);
    return NULL;
}


ngx_int_t
ngx_http_kochava_offload_start(ngx_http_kochava_offload_t *o)
{
    if (ngx_http_kochava_fanout_start(&o->fanout) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the subrequests were posted to the detached request: run them */
    ngx_http_run_posted_requests(o->ctx.request->connection);

    return NGX_OK;
}


void
ngx_http_kochava_offload_free(ngx_http_kochava_offload_t *o)
{
    ngx_http_kochava_detached_free(o->ctx.request->connection);
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


/* from the detached request's posted write handler */

static void
ngx_http_kochava_offload_done(ngx_http_kochava_fanout_t *f)
{
    ngx_http_kochava_offload_t *o = f->data;

    if (o->done) {
        o->done(o);
    }

    ngx_post_event(&o->free, &ngx_posted_events);
}


static void
ngx_http_kochava_offload_release(ngx_event_t *ev)
{
    ngx_http_kochava_offload_t *o = ev->data;

    if (o->ctx.request->count != 1) {
        /* a subrequest is still being finalized: look again later */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kochava: detached request count %d, waiting",
                       o->ctx.request->count);
        ngx_add_timer(ev, 10);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kochava: offloaded fan-out over");

    ngx_http_kochava_offload_free(o);
}


/* runs however the detached request's pool goes away */

static void
ngx_http_kochava_offload_cleanup(void *data)
{
    ngx_http_kochava_offload_t *o = data;

    if (o->free.posted) {
        ngx_delete_posted_event(&o->free);
    }

    if (o->free.timer_set) {
        ngx_del_timer(&o->free);
    }

    if (o->cleanup) {
        o->cleanup(o);
    }
}
