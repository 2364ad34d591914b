
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The fan-out engine: every outbound body becomes a background POST
 * subrequest to its pass location, at most kochava_concurrency of them
 * in flight and within the worker's slots.  Their answers are kept (a few
 * KB) by a filter that swallows them and judged when each one ends; a
 * retryable failure is written to the location's spool.  The engine knows
 * nothing of sync or async delivery: it calls the fan-out's done() when
 * the last message is settled.
 *
 * Each message goes PENDING -> STARTED -> DONE | FAILED | SPOOLED (see
 * ngx_http_kochava_fanout.h); a PENDING one that is not forwarded, or
 * whose subrequest could not be created, is settled without starting.
 * The cursor (next) moves only past a message that is no longer PENDING,
 * so next == in_flight + finished at every step (checked in debug
 * builds).  The fan-out runs from three wake-ups, all through
 * ngx_http_kochava_fanout_run(): its start, its request's posted write
 * handler (an answer came), and a slot handed over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_ratelimit.h"


static void ngx_http_kochava_fanout_cleanup(void *data);
static void ngx_http_kochava_fanout_wake(ngx_http_request_t *r);
static void ngx_http_kochava_fanout_slot(void *data);
static void ngx_http_kochava_fanout_run(ngx_http_kochava_fanout_t *f);
static ngx_int_t ngx_http_kochava_launch(ngx_http_kochava_fanout_t *f);
static ngx_int_t ngx_http_kochava_subrequest(ngx_http_request_t *r,
    ngx_http_kochava_sr_t *s, ngx_http_kochava_pass_t *pass);
static ngx_int_t ngx_http_kochava_sr_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, size_t len);
static ngx_int_t ngx_http_kochava_sr_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_http_kochava_sr_status(ngx_http_request_t *sr,
    ngx_http_kochava_sr_t *s, ngx_int_t rc);
static void ngx_http_kochava_config_failure(ngx_http_kochava_fanout_t *f,
    ngx_http_kochava_sr_t *s);
static kochava_outcome_e ngx_http_kochava_sr_judge(ngx_http_request_t *sr,
    ngx_http_kochava_sr_t *s);
static const char *ngx_http_kochava_failure(ngx_http_kochava_sr_t *s,
    kochava_outcome_e outcome, u_char *buf);
static void ngx_http_kochava_settle(ngx_http_kochava_sr_t *s,
    kochava_outcome_e outcome, const char *error);
static ngx_http_kochava_sr_t *ngx_http_kochava_own(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_str_t  ngx_http_kochava_post = ngx_string("POST");
static ngx_str_t  ngx_http_kochava_json_type = ngx_string("application/json");


/*
 * This worker's lines of failed and refused outbound requests, one a
 * second at most per destination and outcome: a Kochava that is down
 * must not fill the disk with one line per message (the metrics count
 * every one).
 */
static ngx_http_kochava_ratelimit_t
    ngx_http_kochava_judged[KOCHAVA_NDESTS][KOCHAVA_NOUTCOMES];


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


#if (NGX_DEBUG)

#define ngx_http_kochava_fanout_check(f)                                      \
    ngx_http_kochava_assert((f)->next == (f)->in_flight + (f)->finished      \
                            && (f)->finished <= (f)->nouts                    \
                            && (f)->slots.held <= (f)->in_flight,             \
                            (f)->request->connection->log,                    \
                            "fan-out counters")

#else

#define ngx_http_kochava_fanout_check(f)

#endif


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
ngx_http_kochava_fanout_start(ngx_http_kochava_fanout_t *f)
{
    ngx_uint_t               i;
    ngx_pool_cleanup_t      *cln;
    ngx_http_request_t      *r;
    ngx_http_kochava_sr_t   *s;
    ngx_http_kochava_ctx_t  *ctx;

    r = f->request;

    f->srs = ngx_pcalloc(r->pool, f->nouts * sizeof(ngx_http_kochava_sr_t));
    if (f->srs == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_kochava_fanout_cleanup;
    cln->data = f;

    for (i = 0; i < f->nouts; i++) {
        s = &f->srs[i];
        s->fanout = f;
        s->out = &f->outs[i];
        s->ps.handler = ngx_http_kochava_sr_done;
        s->ps.data = s;
    }

    if (ngx_http_kochava_slots_init(r, &f->slots, ngx_http_kochava_fanout_slot,
                                    f)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);
    ctx->fanout = f;

    r->write_event_handler = ngx_http_kochava_fanout_wake;

    /* what settles now posts the request: done() comes from there */
    ngx_http_kochava_fanout_run(f);

    return NGX_OK;
}


/*
 * The request is freed.  Before its fan-out was over, it was terminated
 * (an HTTP/2 client that went away): the subrequests in flight were torn
 * down unjudged.  Their slots go back by the slots' own cleanup.
 */

static void
ngx_http_kochava_fanout_cleanup(void *data)
{
    ngx_http_kochava_fanout_t *f = data;

    if (f->over) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, f->request->connection->log, 0,
                  "kochava: fan-out ended with its request: %ui of %ui "
                  "outbound requests in flight, %ui not started",
                  f->in_flight, f->nouts, f->nouts - f->next);

    ngx_http_kochava_metrics_in_flight(-(ngx_int_t) f->in_flight);

    f->in_flight = 0;
    f->over = 1;
}


/* the request's write handler while its fan-out runs: an answer came */

static void
ngx_http_kochava_fanout_wake(ngx_http_request_t *r)
{
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (ctx == NULL || ctx->fanout == NULL) {
        return;
    }

    ctx->fanout->posted = 0;

    ngx_http_kochava_fanout_run(ctx->fanout);
}


/* a worker slot was handed to the fan-out */

static void
ngx_http_kochava_fanout_slot(void *data)
{
    ngx_http_kochava_fanout_t *f = data;

    ngx_http_kochava_fanout_run(f);

    ngx_http_run_posted_requests(f->request->connection);
}


/*
 * Starts what the caps allow; a message that cannot be started settles,
 * with the rest, as a retryable failure (spooled when it can be).  When
 * every message is settled and this is not the start, done() is called.
 */

static void
ngx_http_kochava_fanout_run(ngx_http_kochava_fanout_t *f)
{
    ngx_http_kochava_sr_t  *s;

    if (f->over) {
        return;
    }

    if (ngx_http_kochava_launch(f) != NGX_OK) {

        ngx_log_error(NGX_LOG_ERR, f->request->connection->log, 0,
                      "kochava: outbound request %ui of %ui could not be "
                      "started, it and the rest are failed", f->next + 1,
                      f->nouts);

        while (f->next < f->nouts) {
            s = &f->srs[f->next++];
            ngx_http_kochava_settle(s, KOCHAVA_OUTCOME_RETRYABLE,
                                    "internal error");
        }
    }

    if (f->next == f->nouts) {
        ngx_http_kochava_slots_done(&f->slots);
    }

    ngx_http_kochava_fanout_check(f);

    if (f->finished < f->nouts || f->posted) {
        /* a posted wake-up comes: it is the one to end the fan-out */
        return;
    }

    ngx_http_kochava_assert(f->in_flight == 0 && f->next == f->nouts,
                            f->request->connection->log, "fan-out over");

    f->over = 1;

    ngx_http_kochava_dedup_commit(f->request);

    f->done(f);
}


/*
 * Starts outbound requests until a cap is reached (the request's, the
 * worker's) or none is left.  NGX_ERROR: the subrequest of the message
 * at next could not be created (it is still PENDING).
 */

static ngx_int_t
ngx_http_kochava_launch(ngx_http_kochava_fanout_t *f)
{
    ngx_http_request_t           *r;
    ngx_http_kochava_sr_t        *s;
    ngx_http_kochava_pass_t      *pass;
    ngx_http_kochava_loc_conf_t  *klcf;

    r = f->request;
    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    while (f->next < f->nouts && f->in_flight < klcf->concurrency) {
        s = &f->srs[f->next];
        pass = &klcf->pass[s->out->dest];

        ngx_http_kochava_assert(s->state == NGX_HTTP_KOCHAVA_MSG_PENDING,
                                r->connection->log, "launch of a message "
                                "that is not pending");

        if (pass->uri.len == 0) {
            f->next++;

            /* e.g. no kochava_identity_pass: that kind is not forwarded */
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "kochava: no %s location configured, "
                          "message %uD not forwarded",
                          kochava_dest_name(s->out->dest), s->out->index);
            ngx_http_kochava_settle(s, KOCHAVA_OUTCOME_PERMANENT, NULL);
            continue;
        }

        if (ngx_http_kochava_slot_take(&f->slots) == NGX_AGAIN) {
            return NGX_OK;
        }

        /* the cursor moves once the subrequest exists */

        if (ngx_http_kochava_subrequest(r, s, pass) != NGX_OK) {
            ngx_http_kochava_slot_release(&f->slots);
            return NGX_ERROR;
        }

        s->state = NGX_HTTP_KOCHAVA_MSG_STARTED;
        f->next++;
        f->in_flight++;
        ngx_http_kochava_metrics_in_flight(1);

#if (NGX_DEBUG)
        if (f->slots.capped) {
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "kochava: message %uD to %V, %ui in flight, "
                           "%ui worker slots taken", s->out->index,
                           &pass->uri, f->in_flight,
                           ngx_http_kochava_slots_taken_n());

        } else {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "kochava: message %uD to %V, %ui in flight",
                           s->out->index, &pass->uri, f->in_flight);
        }
#endif
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

#if (NGX_DEBUG)
    {
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if ((ngx_uint_t) (s - s->fanout->srs) + 1 == klcf->debug_fail_subrequest)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: debug: outbound request %ui made to fail",
                      klcf->debug_fail_subrequest);
        return NGX_ERROR;
    }
    }
#endif

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

    u_char                      error[NGX_INT_T_LEN
                                      + sizeof(" configuration")];
    kochava_outcome_e           outcome;
    ngx_http_kochava_fanout_t  *f;

    if (s->state != NGX_HTTP_KOCHAVA_MSG_STARTED) {
        return rc;
    }

    f = s->fanout;

    ngx_http_kochava_sr_status(sr, s, rc);

    if (sr->upstream == NULL) {
        /*
         * No upstream was asked: nginx answered for the pass location
         * itself (a handler other than proxy_pass, which nginx -t cannot
         * tell from it).  Not Kochava's answer: the configuration's
         * failure, retryable.
         */
        s->config = 1;
        outcome = KOCHAVA_OUTCOME_RETRYABLE;
        ngx_http_kochava_config_failure(f, s);

        ngx_sprintf(error, "%ui configuration%Z", s->status);
        ngx_http_kochava_settle(s, outcome, (const char *) error);

    } else {
        outcome = ngx_http_kochava_sr_judge(sr, s);

        ngx_http_kochava_metrics_upstream(s->out->dest, outcome,
                                          ngx_current_msec - s->start);

        ngx_http_kochava_settle(s, outcome,
                                ngx_http_kochava_failure(s, outcome, error));
    }

    /*
     * A connection reset or a time-out in the middle of the upstream's
     * answer finalizes the subrequest with NGX_ERROR, which would
     * terminate the parent: the client's request (sync over HTTP/1.x) or
     * the detached one of an offloaded fan-out.  It was judged and
     * counted above; the subrequest just ends.
     */

    if (rc == NGX_ERROR
        || (f->no_client
            && (rc == NGX_HTTP_REQUEST_TIME_OUT
                || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST)))
    {
        return NGX_OK;
    }

    return rc;
}


/*
 * A pass location that nginx answered itself: "alert", at most once a
 * second per ingest location, pass and worker, with how many were not.
 */

static void
ngx_http_kochava_config_failure(ngx_http_kochava_fanout_t *f,
    ngx_http_kochava_sr_t *s)
{
    ngx_http_kochava_pass_t      *pass;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(f->request, ngx_http_kochava_module);
    pass = &klcf->pass[s->out->dest];

    ngx_http_kochava_metrics_config_error(s->out->dest);

    ngx_http_kochava_ratelimit_log(&pass->alerts, NGX_LOG_ALERT,
                  f->request->connection->log, 0,
                  "kochava: %s location \"%V\" was answered %ui by nginx "
                  "itself, not by an upstream: the %s pass does not lead "
                  "to a proxy_pass location (another handler, such as "
                  "empty_gif or one in an \"if\"?); message %uD kept for "
                  "a retry, not marked delivered",
                  kochava_dest_name(s->out->dest), &pass->uri, s->status,
                  kochava_dest_name(s->out->dest), s->out->index);
}


/*
 * The status to judge: an error after the upstream's header (a reset, a
 * time-out in the middle of its body) leaves that header's status behind;
 * the error wins, so a broken 200 is not taken for a delivery.
 */

static void
ngx_http_kochava_sr_status(ngx_http_request_t *sr, ngx_http_kochava_sr_t *s,
    ngx_int_t rc)
{
    ngx_uint_t  status;

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
}


/* the outcome of s's answer (kochava_judge()), logged */

static kochava_outcome_e
ngx_http_kochava_sr_judge(ngx_http_request_t *sr, ngx_http_kochava_sr_t *s)
{
    kochava_outcome_e  outcome;

    outcome = kochava_judge(s->out->dest, (unsigned) s->status,
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
                       kochava_dest_name(s->out->dest), s->status,
                       s->out->index);
        break;

    case KOCHAVA_OUTCOME_PERMANENT:
        ngx_http_kochava_ratelimit_log(
                      &ngx_http_kochava_judged[s->out->dest][outcome],
                      NGX_LOG_ERR, sr->connection->log, 0,
                      "kochava: %s refused message %uD with %ui, "
                      "not retried", kochava_dest_name(s->out->dest),
                      s->out->index, s->status);
        break;

    default:
        ngx_http_kochava_ratelimit_log(
                      &ngx_http_kochava_judged[s->out->dest][outcome],
                      NGX_LOG_WARN, sr->connection->log, 0,
                      "kochava: %s failed for message %uD with %ui (%s)",
                      kochava_dest_name(s->out->dest), s->out->index,
                      s->status, kochava_outcome_name(outcome));
        break;
    }

    return outcome;
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
 * Settles a PENDING or STARTED message with its outcome; a retryable
 * failure (error: its spool "last_error") goes to the spool.  Wakes the
 * fan-out's request.
 */

static void
ngx_http_kochava_settle(ngx_http_kochava_sr_t *s, kochava_outcome_e outcome,
    const char *error)
{
    ngx_http_kochava_fanout_t  *f;

    f = s->fanout;

    ngx_http_kochava_assert(s->state == NGX_HTTP_KOCHAVA_MSG_PENDING
                            || s->state == NGX_HTTP_KOCHAVA_MSG_STARTED,
                            f->request->connection->log,
                            "a message settled twice");

    if (s->state == NGX_HTTP_KOCHAVA_MSG_STARTED) {
        f->in_flight--;
        ngx_http_kochava_metrics_in_flight(-1);
        ngx_http_kochava_slot_release(&f->slots);
    }

    s->outcome = outcome;
    f->outcomes[outcome]++;
    f->finished++;

    if (outcome == KOCHAVA_OUTCOME_OK
        || outcome == KOCHAVA_OUTCOME_PERMANENT)
    {
        s->state = NGX_HTTP_KOCHAVA_MSG_DONE;

    } else if (error && !f->durable
               && ngx_http_kochava_fanout_spool(f->request, s->out, error))
    {
        s->record = 1;
        s->state = NGX_HTTP_KOCHAVA_MSG_SPOOLED;

    } else if (f->on_disk) {
        /* its journal record stays: the replay sends it */
        s->state = NGX_HTTP_KOCHAVA_MSG_SPOOLED;

    } else {
        s->state = NGX_HTTP_KOCHAVA_MSG_FAILED;
    }

    if (s->state == NGX_HTTP_KOCHAVA_MSG_SPOOLED) {
        f->spooled++;
    }

    /*
     * De-duplication: delivered, refused for good or on disk (the replay
     * sends it) is confirmed; a failure that is nowhere, or one that
     * nginx answered itself (the configuration is to be fixed, and the
     * retry then must go), is released.
     */

    if (s->state == NGX_HTTP_KOCHAVA_MSG_FAILED || s->config) {
        ngx_http_kochava_dedup_release(f->request, &f->app_id, s->out);

    } else {
        ngx_http_kochava_dedup_confirm(f->request, &f->app_id, s->out);
    }

    /*
     * Posting, not running: running posted requests from within a
     * subrequest's finalization is not safe.  Posted once at a time, so
     * no stale entry outlives the request.
     */

    if (!f->posted) {
        f->posted = 1;
        ngx_http_post_request(f->request, NULL);
    }
}


/*
 * Writes a failed output to the spool of r's location, if it has one, as
 * a failure record.  Returns 1 when the output is on disk, 0 otherwise.
 */

ngx_uint_t
ngx_http_kochava_fanout_spool(ngx_http_request_t *r, kochava_out_t *out,
    const char *error)
{
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->spool == NULL || klcf->pass[out->dest].uri.len == 0) {
        return 0;
    }

    return ngx_http_kochava_spool_write(klcf->spool, out->dest,
                                        &klcf->pass[out->dest].uri,
                                        out->body, out->len, error,
                                        r->connection->log)
           == NGX_HTTP_KOCHAVA_SPOOLED;
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
