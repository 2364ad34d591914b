
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Async delivery.  Background subrequests of the client's request would
 * keep its connection busy until the last upstream answered: the next
 * request on a keepalive connection would wait behind a slow Kochava.  So
 * the fan-out runs on a request of its own instead, detached from any
 * client: a connection without a socket (fd -1, never in the event loop)
 * and a request in a pool of its own, carrying copies of the outbound
 * bodies and the client location's configuration.  Its subrequests are
 * the same as in sync mode; what failed and may succeed later goes to the
 * spool; when the last one is over the detached request is freed from a
 * posted event.  The client is answered 200 as soon as the fan-out has
 * started.
 *
 * In-flight upstream requests keep their (non-cancelable) timers, so a
 * worker that is told to quit or reload finishes them before it exits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


typedef struct {
    ngx_http_kochava_ctx_t        ctx;
    ngx_event_t                   done;
    ngx_connection_t             *connection;
    size_t                        bytes;          /* of the bodies */
    ngx_uint_t                    conns;          /* it may take */
    unsigned                      counted:1;
    unsigned                      freed:1;
} ngx_http_kochava_detached_t;


static ngx_http_kochava_detached_t *ngx_http_kochava_detach(
    ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx);
static ngx_connection_t *ngx_http_kochava_fake_connection(
    ngx_http_request_t *r, ngx_pool_t *pool);
static ngx_int_t ngx_http_kochava_copy_outs(ngx_pool_t *pool,
    kochava_result_t *to, kochava_result_t *from);
static ngx_int_t ngx_http_kochava_copy_ids(ngx_pool_t *pool,
    kochava_out_t *out);
static void ngx_http_kochava_detached_done(ngx_event_t *ev);
static void ngx_http_kochava_detached_cleanup(void *data);
static void ngx_http_kochava_free_detached(ngx_http_kochava_detached_t *d);
static void ngx_http_kochava_spool_all(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, const char *why);


/*
 * Fan-outs of this worker still running, the bytes they hold and the
 * connections they may take (their own and kochava_concurrency upstream
 * ones each).
 */
static ngx_uint_t  ngx_http_kochava_detached_n;
static size_t      ngx_http_kochava_detached_bytes;
static ngx_uint_t  ngx_http_kochava_detached_conns;


/*
 * Starts the fan-out of ctx's outputs without the client.  Afterwards
 * every output is on its way, in the spool, or (the spool refused it)
 * counted and logged as dropped.
 */

void
ngx_http_kochava_async_start(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    size_t                        bytes;
    uint32_t                      i;
    ngx_str_t                     uris[KOCHAVA_NDESTS];
    ngx_uint_t                    conns;
    ngx_http_kochava_detached_t  *d;
    ngx_http_kochava_loc_conf_t  *klcf;

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

    if (ngx_http_kochava_detached_bytes + bytes > klcf->async_backlog
        || ngx_http_kochava_detached_conns + conns
           > ngx_cycle->connection_n / 4
        || ngx_cycle->free_connection_n < conns + 1)
    {
        ngx_http_kochava_spool_all(r, ctx, "async backlog full");
        return;
    }

    d = ngx_http_kochava_detach(r, ctx);
    if (d == NULL) {
        ngx_http_kochava_spool_all(r, ctx, "no memory");
        return;
    }

    /* the journal goes with the fan-out */
    d->ctx.journal = ctx->journal;
    ctx->journal.file = NULL;

    d->bytes = bytes;
    d->conns = conns;
    d->counted = 1;
    ngx_http_kochava_metrics_async_fanouts(1);
    ngx_http_kochava_detached_n++;
    ngx_http_kochava_detached_bytes += bytes;
    ngx_http_kochava_detached_conns += conns;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kochava: async fan-out of %uD requests, %ui running, "
                   "%uz bytes", d->ctx.result.nouts,
                   ngx_http_kochava_detached_n,
                   ngx_http_kochava_detached_bytes);

    /*
     * On a detached request the fan-out spools what it cannot start; it
     * fails only when it could not start at all (no memory).
     */

    if (ngx_http_kochava_fanout_start(d->ctx.request, &d->ctx) != NGX_OK) {
        ctx->journal = d->ctx.journal;
        d->ctx.journal.file = NULL;
        ngx_http_kochava_free_detached(d);
        ngx_http_kochava_spool_all(r, ctx, "no memory");
        return;
    }

    /* the subrequests were posted to the detached request: run them */
    ngx_http_run_posted_requests(d->connection);
}


/*
 * Called by the fan-out when its last output is over (from the detached
 * request's posted write handler): the request is freed from a posted
 * event, once nothing of it is on the stack.
 */

void
ngx_http_kochava_async_finish(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    u_char                       *done;
    ngx_uint_t                    i;
    ngx_http_kochava_sr_t        *s;
    ngx_http_kochava_detached_t  *d;

    d = (ngx_http_kochava_detached_t *) ctx;

    /*
     * Done: delivered, refused for good, or written again as a failure
     * record.  The rest stays in the journal for the replay.  No memory
     * for the marks marks nothing: sent again, at least once.
     */

    if (ctx->journal.file) {
        done = ngx_pnalloc(r->pool, ctx->result.nouts);

        if (done) {
            for (i = 0; i < ctx->result.nouts; i++) {
                s = &ctx->srs[i];
                done[i] = (s->outcome == KOCHAVA_OUTCOME_OK
                           || s->outcome == KOCHAVA_OUTCOME_PERMANENT
                           || s->spooled);
            }
        }

        ngx_http_kochava_journal_done(&ctx->journal, done,
                                      r->connection->log);
    }

    ngx_post_event(&d->done, &ngx_posted_events);
}


static ngx_http_kochava_detached_t *
ngx_http_kochava_detach(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_log_t                    *log;
    ngx_time_t                   *tp;
    ngx_pool_t                   *pool;
    ngx_connection_t             *c;
    ngx_pool_cleanup_t           *cln;
    ngx_http_request_t           *fr;
    ngx_http_log_ctx_t           *lctx;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_kochava_detached_t  *d;

    pool = ngx_create_pool(4096, r->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    d = ngx_pcalloc(pool, sizeof(ngx_http_kochava_detached_t));
    if (d == NULL) {
        goto failed;
    }

    c = ngx_http_kochava_fake_connection(r, pool);
    if (c == NULL) {
        goto failed;
    }

    d->connection = c;

    /* the pool outlives the client's connection, and its log with it */
    pool->log = c->log;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        goto free;
    }

    cln->handler = ngx_http_kochava_detached_cleanup;
    cln->data = d;

    /* its log: the client location's, naming the detached request */

    log = c->log;

    lctx = ngx_pcalloc(pool, sizeof(ngx_http_log_ctx_t));
    if (lctx == NULL) {
        goto free;
    }

    fr = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    if (fr == NULL) {
        goto free;
    }

    lctx->connection = c;
    lctx->request = fr;
    lctx->current_request = fr;

    log->data = lctx;
    log->handler = r->connection->log->handler;
    log->action = "delivering to kochava";

    c->data = fr;
    c->requests++;

    fr->signature = NGX_HTTP_MODULE;
    fr->connection = c;
    fr->pool = pool;
    fr->main = fr;
    fr->count = 1;

    fr->main_conf = r->main_conf;
    fr->srv_conf = r->srv_conf;
    fr->loc_conf = r->loc_conf;

    fr->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    if (fr->ctx == NULL) {
        goto free;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    fr->variables = ngx_pcalloc(pool, cmcf->variables.nelts
                                      * sizeof(ngx_http_variable_value_t));
    if (fr->variables == NULL) {
        goto free;
    }

    if (ngx_list_init(&fr->headers_in.headers, pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&fr->headers_out.headers, pool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        goto free;
    }

    fr->headers_in.content_length_n = -1;
    fr->headers_in.keep_alive_n = -1;
    fr->headers_out.content_length_n = -1;
    fr->headers_out.last_modified_time = -1;

    if (ngx_http_kochava_copy_str(pool, &fr->headers_in.server,
                                  &r->headers_in.server) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->request_line,
                                     &r->request_line) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->uri, &r->uri) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->unparsed_uri,
                                     &r->unparsed_uri) != NGX_OK)
    {
        goto free;
    }

    fr->method = NGX_HTTP_POST;
    ngx_str_set(&fr->method_name, "POST");
    fr->http_version = NGX_HTTP_VERSION_11;
    ngx_str_set(&fr->http_protocol, "HTTP/1.1");
    fr->log_handler = r->log_handler;
    fr->uri_changes = NGX_HTTP_MAX_URI_CHANGES + 1;
    fr->subrequests = NGX_HTTP_MAX_SUBREQUESTS + 1;
    fr->http_state = NGX_HTTP_PROCESS_REQUEST_STATE;
    tp = ngx_timeofday();
    fr->start_sec = tp->sec;
    fr->start_msec = tp->msec;

    /* no access log line of its own: the client's request has one */
    fr->logged = 1;

    d->ctx.request = fr;
    d->ctx.call = ctx->call;
    d->ctx.detached = 1;

    /* the key of de-duplication entries */
    if (ngx_http_kochava_copy_str(pool, &d->ctx.app_id, &ctx->app_id)
        != NGX_OK)
    {
        goto free;
    }

    if (ngx_http_kochava_copy_outs(pool, &d->ctx.result, &ctx->result)
        != NGX_OK)
    {
        goto free;
    }

    ngx_http_set_ctx(fr, &d->ctx, ngx_http_kochava_module);

    d->done.handler = ngx_http_kochava_detached_done;
    d->done.data = d;
    d->done.log = log;

    return d;

free:

    ngx_http_kochava_free_detached(d);
    return NULL;

failed:

    ngx_destroy_pool(pool);
    return NULL;
}


/*
 * A connection slot with no socket: its events are never in the event
 * loop.  The client's addresses are copied, so that $remote_addr and
 * friends still mean something in the pass locations.
 */

static ngx_connection_t *
ngx_http_kochava_fake_connection(ngx_http_request_t *r, ngx_pool_t *pool)
{
    ngx_log_t         *log;
    ngx_connection_t  *c, *rc, *saved;

    rc = r->connection;

    log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (log == NULL) {
        return NULL;
    }

    *log = *rc->log;
    log->connection = 0;

    /* with fd 0 where there is a table of files; given back at once */

    saved = ngx_cycle->files ? ngx_cycle->files[0] : NULL;

    c = ngx_get_connection(0, log);

    if (ngx_cycle->files) {
        ngx_cycle->files[0] = saved;
    }

    if (c == NULL) {
        return NULL;
    }

    c->fd = (ngx_socket_t) -1;
    c->pool = pool;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    log->connection = c->number;
    c->log_error = NGX_ERROR_INFO;

    /*
     * The upstream module adds the client connection's events to the
     * event loop unless they look active already; a write event that is
     * ready gets no send timer either.  A read event that was ready would
     * be posted: it is not.
     */
    c->read->active = 1;
    c->read->ready = 0;
    c->write->active = 1;
    c->write->ready = 1;
    c->read->handler = ngx_http_empty_handler;
    c->write->handler = ngx_http_empty_handler;

    c->listening = rc->listening;
    c->socklen = rc->socklen;
    c->local_socklen = rc->local_socklen;

    if (rc->sockaddr) {
        c->sockaddr = ngx_palloc(pool, rc->socklen);
        if (c->sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(c->sockaddr, rc->sockaddr, rc->socklen);
    }

    if (rc->local_sockaddr) {
        c->local_sockaddr = ngx_palloc(pool, rc->local_socklen);
        if (c->local_sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(c->local_sockaddr, rc->local_sockaddr, rc->local_socklen);
    }

    if (ngx_http_kochava_copy_str(pool, &c->addr_text, &rc->addr_text)
        != NGX_OK)
    {
        goto failed;
    }

    return c;

failed:

    c->fd = 0;
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    return NULL;
}


ngx_int_t
ngx_http_kochava_copy_str(ngx_pool_t *pool, ngx_str_t *to, ngx_str_t *from)
{
    to->len = from->len;

    if (from->len == 0) {
        to->data = (u_char *) "";
        return NGX_OK;
    }

    to->data = ngx_pnalloc(pool, from->len);
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, from->data, from->len);

    return NGX_OK;
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


static void
ngx_http_kochava_detached_done(ngx_event_t *ev)
{
    ngx_http_kochava_detached_t  *d;

    d = ev->data;

    if (d->ctx.request->count != 1) {
        /* a subrequest is still being finalized: look again later */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kochava: detached request count %d, waiting",
                       d->ctx.request->count);
        ngx_add_timer(ev, 10);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kochava: async fan-out over");

    ngx_http_kochava_free_detached(d);
}


/* runs however the pool goes away */

static void
ngx_http_kochava_detached_cleanup(void *data)
{
    ngx_http_kochava_detached_t *d = data;

    if (d->done.posted) {
        ngx_delete_posted_event(&d->done);
    }

    if (d->done.timer_set) {
        ngx_del_timer(&d->done);
    }

    if (d->ctx.journal.file) {
        /* ended before its fan-out did: its records stay for the replay */
        ngx_http_kochava_journal_done(&d->ctx.journal, NULL,
                                      d->connection->log);
    }

    if (d->counted) {
        d->counted = 0;
        ngx_http_kochava_metrics_async_fanouts(-1);
        ngx_http_kochava_detached_n--;
        ngx_http_kochava_detached_bytes -= d->bytes;
        ngx_http_kochava_detached_conns -= d->conns;
    }
}


static void
ngx_http_kochava_free_detached(ngx_http_kochava_detached_t *d)
{
    ngx_pool_t          *pool;
    ngx_connection_t    *c;
    ngx_http_request_t  *fr;
    ngx_http_cleanup_t  *cln;

    if (d->freed) {
        return;
    }

    d->freed = 1;

    c = d->connection;
    pool = c->pool;
    fr = d->ctx.request;

    /* the upstream cleanups of finished subrequests are no-ops by now */

    if (fr) {
        for (cln = fr->cleanup; cln; cln = cln->next) {
            if (cln->handler) {
                cln->handler(cln->data);
            }
        }

        fr->cleanup = NULL;
    }

    c->destroyed = 1;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    c->fd = 0;
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    ngx_destroy_pool(pool);
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
            ngx_http_kochava_dedup_mark(r, ctx, &ctx->result.outs[i]);
            ngx_http_kochava_metrics_spooled(klcf->spool->index, 0);
        }

        ngx_http_kochava_journal_done(&ctx->journal, NULL,
                                      r->connection->log);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: async fan-out not started (%s), %uD "
                      "requests left in the spool's journal", why,
                      ctx->result.nouts);
        return;
    }

    spooled = 0;

    for (i = 0; i < ctx->result.nouts; i++) {
        spooled += ngx_http_kochava_spool_out(r, ctx, &ctx->result.outs[i],
                                              why);
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "kochava: async fan-out not started (%s), %uD of %uD "
                  "requests spooled", why, spooled, ctx->result.nouts);
}
