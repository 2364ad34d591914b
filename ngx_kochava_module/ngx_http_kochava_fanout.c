
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Fan-out: every outbound body becomes a background POST subrequest to its
 * pass location, at most kochava_concurrency of them in flight.  Their
 * answers are kept (a few KB) by a filter that swallows them, judged when
 * each one ends, and the client is answered when the last one has.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


static ngx_int_t ngx_http_kochava_launch(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static ngx_int_t ngx_http_kochava_subrequest(ngx_http_request_t *r,
    ngx_http_kochava_sr_t *s, ngx_http_kochava_pass_t *pass);
static ngx_int_t ngx_http_kochava_sr_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, size_t len);
static ngx_int_t ngx_http_kochava_sr_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_http_kochava_settle(ngx_http_kochava_sr_t *s,
    kochava_outcome_e outcome);
static void ngx_http_kochava_wake(ngx_http_request_t *r);
static void ngx_http_kochava_spool_rest(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static const char *ngx_http_kochava_failure(ngx_http_kochava_sr_t *s,
    kochava_outcome_e outcome, u_char *buf);
static ngx_int_t ngx_http_kochava_respond(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static ngx_http_kochava_sr_t *ngx_http_kochava_own(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_str_t  ngx_http_kochava_post = ngx_string("POST");
static ngx_str_t  ngx_http_kochava_json_type = ngx_string("application/json");


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_kochava_fanout_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_kochava_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_kochava_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_kochava_fanout_start(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_uint_t              i;
    ngx_http_kochava_sr_t  *s;

    ctx->srs = ngx_pcalloc(r->pool,
                           ctx->result.nouts * sizeof(ngx_http_kochava_sr_t));
    if (ctx->srs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->result.nouts; i++) {
        s = &ctx->srs[i];
        s->ctx = ctx;
        s->out = &ctx->result.outs[i];
        s->ps.handler = ngx_http_kochava_sr_done;
        s->ps.data = s;
    }

    r->write_event_handler = ngx_http_kochava_wake;

    if (ngx_http_kochava_slots_init(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kochava_launch(r, ctx) != NGX_OK) {

        if (!ctx->detached) {
            return NGX_ERROR;
        }

        ngx_http_kochava_spool_rest(r, ctx);
    }

    return NGX_OK;
}


/*
 * Sends ctx's outputs as the location's delivery mode says.  Returns
 * NGX_DONE when the fan-out will answer the client (sync), NGX_OK when
 * the client is to be answered now (async: the outputs are on their way
 * or in the spool), NGX_ERROR.
 */

ngx_int_t
ngx_http_kochava_deliver(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->delivery == NGX_HTTP_KOCHAVA_ASYNC) {
        ngx_http_kochava_async_start(r, ctx);
        return NGX_OK;
    }

    if (ngx_http_kochava_fanout_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_DONE;
}


/*
 * Starts outbound requests until a cap is reached (the request's, the
 * worker's) or none is left.
 */

static ngx_int_t
ngx_http_kochava_launch(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    ngx_http_kochava_sr_t        *s;
    ngx_http_kochava_pass_t      *pass;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    while (ctx->next < ctx->result.nouts
           && ctx->in_flight < klcf->concurrency)
    {
        s = &ctx->srs[ctx->next];
        pass = &klcf->pass[s->out->dest];

        if (pass->uri.len == 0) {
            ctx->next++;

            /* e.g. no kochava_identity_pass: that kind is not forwarded */
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "kochava: no %s location configured, "
                          "message %uD not forwarded",
                          kochava_dest_name(s->out->dest), s->out->index);
            s->done = 1;
            ngx_http_kochava_settle(s, KOCHAVA_OUTCOME_PERMANENT);
            continue;
        }

        if (ngx_http_kochava_slot_take(r, ctx) == NGX_AGAIN) {
            return NGX_OK;
        }

        /*
         * The cursor moves once the subrequest exists: one that could not
         * start is still the next, and is settled by the caller.
         */

        if (ngx_http_kochava_subrequest(r, s, pass) != NGX_OK) {
            ngx_http_kochava_slot_release(ctx);
            return NGX_ERROR;
        }

        ctx->next++;
        ctx->in_flight++;
        ngx_http_kochava_metrics_in_flight(1);

#if (NGX_DEBUG)
        if (ctx->slots_capped) {
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "kochava: message %uD to %V, %ui in flight, "
                           "%ui worker slots taken", s->out->index,
                           &pass->uri, ctx->in_flight,
                           ngx_http_kochava_slots_taken_n());

        } else {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "kochava: message %uD to %V, %ui in flight",
                           s->out->index, &pass->uri, ctx->in_flight);
        }
#endif
    }

    if (ctx->next == ctx->result.nouts) {
        ngx_http_kochava_slots_done(ctx);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_subrequest(ngx_http_request_t *r, ngx_http_kochava_sr_t *s,
    ngx_http_kochava_pass_t *pass)
{
    ngx_buf_t                *b;
    ngx_str_t                *args;
    ngx_chain_t              *cl;
    ngx_http_request_t       *sr;
    ngx_http_request_body_t  *rb;

    args = pass->args.len ? &pass->args : NULL;

    if (s->out->dest == KOCHAVA_DEST_BRAZE) {
        /*
         * At debug level the proxy module logs the whole upstream request
         * header, the Braze REST API key with it.  The connection's log is
         * its own (the next request's location sets it anew): it goes on
         * at "info" from here.  ("error_log ... debug" is stored as the
         * debug bits alone, so clearing them would leave no level at all.)
         */
        if (r->connection->log->log_level & NGX_LOG_DEBUG_ALL) {
            r->connection->log->log_level = NGX_LOG_INFO;
        }
    }

    /*
     * A body of its own, with start and end set: the upstream rewinds
     * to b->start when proxy_next_upstream tries another server.
     */

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->start = (u_char *) s->out->body;
    b->pos = b->start;
    b->last = b->start + s->out->len;
    b->end = b->last;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    rb->bufs = cl;
    rb->buf = b;
    rb->rest = 0;

    if (ngx_http_subrequest(r, &pass->uri, args, &sr, &s->ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_POST;
    sr->method_name = ngx_http_kochava_post;
    sr->request_body = rb;

    s->start = ngx_current_msec;

    return ngx_http_kochava_sr_headers(r, sr, s->out->len);
}


/*
 * The subrequest starts with a copy of the client's headers: they are
 * replaced by Content-Type and Content-Length alone, so that nothing the
 * client sent (its write key, Content-Encoding, cookies) reaches Kochava.
 */

static ngx_int_t
ngx_http_kochava_sr_headers(ngx_http_request_t *r, ngx_http_request_t *sr,
    size_t len)
{
    ngx_table_elt_t  *h;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 2,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.server = r->headers_in.server;
    sr->headers_in.keep_alive_n = -1;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Content-Type");
    h->value = ngx_http_kochava_json_type;
    h->lowcase_key = (u_char *) "content-type";
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

    sr->headers_in.content_type = h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Content-Length");
    h->value.len = ngx_sprintf(h->value.data, "%uz", len) - h->value.data;
    h->lowcase_key = (u_char *) "content-length";

    /* the real hash: proxy_pass skips the headers it sets itself by it */
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

    sr->headers_in.content_length = h;
    sr->headers_in.content_length_n = len;
    sr->headers_in.chunked = 0;

    return NGX_OK;
}


/*
 * Runs every time the subrequest is finalized; only the first counts.
 * The status is the upstream's, or nginx's own (502, 504) when there was
 * no answer.
 */

static ngx_int_t
ngx_http_kochava_sr_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_kochava_sr_t *s = data;

    u_char             error[NGX_INT_T_LEN + sizeof(" no answer")];
    ngx_uint_t         status;
    kochava_outcome_e  outcome;

    if (s->done) {
        return rc;
    }

    s->done = 1;

    /*
     * An error after the upstream's header (a reset, a time-out in the
     * middle of its body) leaves that header's status behind: the error
     * wins, so a broken 200 is not taken for a delivery.
     */

    status = sr->headers_out.status;

    s->answered = (sr->upstream && sr->upstream->headers_in.status_n);

    if (rc == NGX_ERROR || (rc == NGX_OK && !s->complete)) {
        /*
         * The upstream module ends an answer cut short with a flush and
         * NGX_OK: without its last buffer it was not an answer.
         */
        status = 0;
        s->answered = 0;

    } else if (rc >= NGX_HTTP_SPECIAL_RESPONSE
               && (status == 0 || status < NGX_HTTP_SPECIAL_RESPONSE))
    {
        status = rc;
    }

    s->status = status;

    outcome = kochava_judge(s->out->dest, (unsigned) status,
                            (const char *) s->answer, s->answer_len);

    if (outcome == KOCHAVA_OUTCOME_OK && s->out->dest == KOCHAVA_DEST_BRAZE) {
        s->errors = kochava_braze_errors((const char *) s->answer,
                                         s->answer_len);

        if (s->errors) {
            ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                          "kochava: braze refused %uz of the %uD installs "
                          "of its request, not retried", s->errors,
                          s->out->count);
        }
    }

    switch (outcome) {

    case KOCHAVA_OUTCOME_OK:
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                       "kochava: %s answered %ui for message %uD",
                       kochava_dest_name(s->out->dest), status,
                       s->out->index);
        break;

    case KOCHAVA_OUTCOME_PERMANENT:
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "kochava: %s refused message %uD with %ui, "
                      "not retried", kochava_dest_name(s->out->dest),
                      s->out->index, status);
        break;

    default:
        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "kochava: %s failed for message %uD with %ui (%s)",
                      kochava_dest_name(s->out->dest), s->out->index,
                      status, kochava_outcome_name(outcome));
        break;
    }

    ngx_http_kochava_metrics_upstream(s->out->dest, outcome,
                                      ngx_current_msec - s->start);

    if (outcome == KOCHAVA_OUTCOME_OK
        || outcome == KOCHAVA_OUTCOME_PERMANENT)
    {
        ngx_http_kochava_dedup_mark(s->ctx->request, s->ctx, s->out);
    }

    s->ctx->in_flight--;
    ngx_http_kochava_metrics_in_flight(-1);
    ngx_http_kochava_slot_release(s->ctx);

    if (outcome == KOCHAVA_OUTCOME_RETRYABLE
        || outcome == KOCHAVA_OUTCOME_TIMEOUT)
    {
        if (ngx_http_kochava_spool_out(s->ctx->request, s->ctx, s->out,
                                       ngx_http_kochava_failure(s, outcome,
                                                                error)))
        {
            s->spooled = 1;
            s->ctx->spooled++;

        } else if (s->ctx->journal.file) {
            /* its journal record stays: the replay sends it */
            s->ctx->spooled++;
            ngx_http_kochava_dedup_mark(s->ctx->request, s->ctx, s->out);
        }
    }

    ngx_http_kochava_settle(s, outcome);

    /*
     * A connection reset or a time-out in the middle of the upstream's
     * answer finalizes the subrequest with NGX_ERROR, which would
     * terminate the parent: the client's request in sync mode, the
     * detached one in async mode.  It was judged and counted above; the
     * subrequest just ends.
     */

    if (rc == NGX_ERROR
        || (s->ctx->detached
            && (rc == NGX_HTTP_REQUEST_TIME_OUT
                || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST)))
    {
        return NGX_OK;
    }

    return rc;
}


/* the spool's "last_error" of a failed output, written into buf */

static const char *
ngx_http_kochava_failure(ngx_http_kochava_sr_t *s, kochava_outcome_e outcome,
    u_char *buf)
{
    if (outcome == KOCHAVA_OUTCOME_TIMEOUT) {
        return "timeout";
    }

    if (s->status == 0) {
        return "no answer";
    }

    if (!s->answered) {
        /* nginx's own 502: the upstream could not be reached */
        ngx_sprintf(buf, "%ui no answer%Z", s->status);

    } else if (s->status < NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_sprintf(buf, "%ui not json%Z", s->status);

    } else {
        ngx_sprintf(buf, "%ui%Z", s->status);
    }

    return (const char *) buf;
}


/*
 * Writes a failed output to the location's spool, if it has one.  Returns
 * 1 when the output is on disk, 0 otherwise.
 */

ngx_uint_t
ngx_http_kochava_spool_out(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx,
    kochava_out_t *out, const char *error)
{
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->spool == NULL || klcf->pass[out->dest].uri.len == 0) {
        return 0;
    }

    if (ngx_http_kochava_spool_write(klcf->spool, out->dest,
                                     &klcf->pass[out->dest].uri, out->body,
                                     out->len, error, r->connection->log)
        != NGX_HTTP_KOCHAVA_SPOOLED)
    {
        return 0;
    }

    /* on disk is as good as delivered: the replay sends it */
    ngx_http_kochava_dedup_mark(r, ctx, out);

    return 1;
}


/* a detached fan-out that cannot start its subrequests spools them */

static void
ngx_http_kochava_spool_rest(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_http_kochava_sr_t  *s;

    while (ctx->next < ctx->result.nouts) {
        s = &ctx->srs[ctx->next++];
        s->done = 1;

        if (ngx_http_kochava_spool_out(r, ctx, s->out, "internal error")) {
            s->spooled = 1;
            ctx->spooled++;

        } else if (ctx->journal.file) {
            ctx->spooled++;
            ngx_http_kochava_dedup_mark(r, ctx, s->out);
        }

        ngx_http_kochava_settle(s, KOCHAVA_OUTCOME_RETRYABLE);
    }

    ngx_http_kochava_slots_done(ctx);
}


/* counts an outbound request as over and wakes the client request */

static void
ngx_http_kochava_settle(ngx_http_kochava_sr_t *s, kochava_outcome_e outcome)
{
    ngx_http_kochava_ctx_t  *ctx;

    ctx = s->ctx;

    s->outcome = outcome;
    ctx->outcomes[outcome]++;
    ctx->finished++;

    /*
     * Posting, not running: running posted requests from within a
     * subrequest's finalization is not safe.  Posted once at a time, so
     * no stale entry outlives the request.
     */

    if (!ctx->posted) {
        ctx->posted = 1;
        ngx_http_post_request(ctx->request, NULL);
    }
}


/* the client request's write handler while its fan-out runs */

static void
ngx_http_kochava_wake(ngx_http_request_t *r)
{
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (ctx == NULL || ctx->responded) {
        return;
    }

    ctx->posted = 0;

    ngx_http_kochava_fanout_step(r, ctx);
}


/*
 * Starts what the caps allow; answers when every output is settled.  Run
 * when an outbound request ended, and when worker slots were handed to
 * the fan-out (ngx_http_kochava_slots.c).
 */

void
ngx_http_kochava_fanout_step(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_kochava_launch(r, ctx) != NGX_OK) {

        if (!ctx->detached) {
            ctx->responded = 1;
            ngx_http_kochava_slots_done(ctx);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_kochava_spool_rest(r, ctx);
    }

    if (ctx->finished < ctx->result.nouts) {
        return;
    }

    ctx->responded = 1;

    if (ctx->detached) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: async fan-out of %uD requests over: "
                      "%ui delivered, %ui refused, %ui failed, "
                      "%ui of them spooled", ctx->result.nouts,
                      ctx->outcomes[KOCHAVA_OUTCOME_OK],
                      ctx->outcomes[KOCHAVA_OUTCOME_PERMANENT],
                      ctx->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
                      + ctx->outcomes[KOCHAVA_OUTCOME_TIMEOUT],
                      ctx->spooled);

        ngx_http_kochava_async_finish(r, ctx);
        return;
    }

    rc = ngx_http_kochava_respond(r, ctx);

    ngx_http_finalize_request(r, rc);
}


/*
 * Sync delivery: a retryable failure anywhere makes the SDK keep the call
 * and send it again (503 + Retry-After); permanent failures cannot be
 * helped by a retry and are answered 200.
 */

static ngx_int_t
ngx_http_kochava_respond(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    size_t               len;
    ngx_uint_t           failed;
    const char          *json;
    kochava_allocator_t  alloc;

    failed = ctx->outcomes[KOCHAVA_OUTCOME_RETRYABLE]
             + ctx->outcomes[KOCHAVA_OUTCOME_TIMEOUT];

    if (failed && ctx->spooled == failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %uD outbound requests failed and "
                      "were spooled, answered 200", failed,
                      ctx->result.nouts);

    } else if (failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %ui of %uD outbound requests failed and "
                      "may succeed later, answered 503", failed,
                      ctx->result.nouts);

        return ngx_http_kochava_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "Upstream unavailable");
    }

    ngx_http_kochava_allocator(r, &alloc);

    json = kochava_result_json(&ctx->result, &alloc, &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kochava_send_json(r, NGX_HTTP_OK, json, len);
}


/* our subrequests are known by their completion handler */

static ngx_http_kochava_sr_t *
ngx_http_kochava_own(ngx_http_request_t *r)
{
    if (r == r->main
        || r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_kochava_sr_done)
    {
        return NULL;
    }

    return r->post_subrequest->data;
}


static ngx_int_t
ngx_http_kochava_header_filter(ngx_http_request_t *r)
{
    if (ngx_http_kochava_own(r) == NULL) {
        return ngx_http_next_header_filter(r);
    }

    r->header_sent = 1;

    return NGX_OK;
}


/*
 * Keeps the first few KB of an upstream's answer, enough to judge it,
 * and marks everything consumed so the upstream reads its response whole
 * and its keepalive connection is reused.
 */

static ngx_int_t
ngx_http_kochava_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                  n;
    ngx_buf_t              *b;
    ngx_chain_t            *cl;
    ngx_http_kochava_sr_t  *s;

    s = ngx_http_kochava_own(r);

    if (s == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            s->complete = 1;
        }

        if (ngx_buf_in_memory(b) && b->last > b->pos) {

            if (s->answer == NULL) {
                s->answer = ngx_pnalloc(r->pool,
                                        NGX_HTTP_KOCHAVA_ANSWER_SIZE);
                if (s->answer == NULL) {
                    return NGX_ERROR;
                }
            }

            n = ngx_min((size_t) (b->last - b->pos),
                        NGX_HTTP_KOCHAVA_ANSWER_SIZE - s->answer_len);

            ngx_memcpy(s->answer + s->answer_len, b->pos, n);
            s->answer_len += n;
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}
