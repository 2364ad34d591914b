
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The ingest location's content handler: checks what can be checked from
 * the headers, reads the body, hands it to the core, and its outputs to
 * admission (the fleet store) and the deliverer.
 *
 * A body larger than client_body_buffer_size goes to a temporary file in
 * client_body_temp_path; when that disk is full nginx would answer its
 * own HTML 500, which the SDKs do not retry the way they retry a 503.
 * The ingest request's body filter, in front of nginx's save filter,
 * takes that failure: the rest of the body is read and dropped, and the
 * client gets 503 + Retry-After (a retry can succeed once there is room).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_ingest.h"
#include "ngx_http_kochava_admit.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_settings.h"
#include "ngx_http_kochava_ratelimit.h"


static ngx_int_t ngx_http_kochava_preflight(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf);
static ngx_int_t ngx_http_kochava_answer_early(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_http_kochava_encoding_e ngx_http_kochava_encoding(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_header_key(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static ngx_int_t ngx_http_kochava_check_app_id(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf, ngx_http_kochava_ctx_t *ctx);
static void ngx_http_kochava_body_handler(ngx_http_request_t *r);
#if (nginx_version >= 1021002)
static ngx_int_t ngx_http_kochava_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
#endif
static ngx_int_t ngx_http_kochava_process(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
static kochava_gdpr_e ngx_http_kochava_gdpr_applies(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf);
static ngx_int_t ngx_http_kochava_inflate(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf, ngx_str_t *body, const char **error);
static void ngx_http_kochava_log_rejects(ngx_http_request_t *r,
    kochava_result_t *res);
static void ngx_http_kochava_doc_cleanup(void *data);
static void ngx_http_kochava_free_cleanup(void *data);


#if (nginx_version >= 1021002)

static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;

/* one line a second per worker for bodies that could not be kept */
static ngx_http_kochava_ratelimit_t     ngx_http_kochava_body_lost_log;

#endif


ngx_int_t
ngx_http_kochava_ingest_init(ngx_conf_t *cf)
{
#if (nginx_version >= 1021002)
    /* rb->last_saved, which the filter sets, is nginx 1.21.2's */
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_kochava_request_body_filter;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_kochava_ingest_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    kochava_call_e                call;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_encoding_e   encoding;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    /* from the start: $kochava_error tells every error answer */

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;

    ngx_http_set_ctx(r, ctx, ngx_http_kochava_module);

    if (r->method == NGX_HTTP_OPTIONS && klcf->cors) {
        return ngx_http_kochava_preflight(r, klcf);
    }

    rc = ngx_http_kochava_settings(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_kochava_answer_early(r, NGX_HTTP_NOT_ALLOWED,
                                             "Method not allowed");
    }

    call = kochava_call_from_path((const char *) r->uri.data, r->uri.len);
    ctx->call = call;

    if (call == KOCHAVA_CALL_UNKNOWN) {
        return ngx_http_kochava_answer_early(r, NGX_HTTP_NOT_FOUND,
                                             "Not found");
    }

    if (call == KOCHAVA_CALL_METRICS) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_kochava_send_json(r, NGX_HTTP_OK,
                                          "{\"success\":true}", 16);
    }

    encoding = ngx_http_kochava_encoding(r);

    if (encoding == NGX_HTTP_KOCHAVA_UNSUPPORTED) {
        return ngx_http_kochava_answer_early(r,
                                         NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "Unsupported content encoding");
    }

    /*
     * Compression never makes a body much larger than it was (gzip adds
     * a few bytes per 32 KB), so a declared length beyond the limit plus
     * that margin is too large whatever its encoding: refused unread.
     */

    if (r->headers_in.content_length_n > 0
        && (size_t) r->headers_in.content_length_n
           > klcf->max_body_size + klcf->max_body_size / 64 + 1024)
    {
        return ngx_http_kochava_answer_early(r, NGX_HTTP_BAD_REQUEST,
                                             "Request body too large");
    }

    ctx->encoding = encoding;

    rc = ngx_http_kochava_header_key(r, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_kochava_answer_early(r, NGX_HTTP_UNAUTHORIZED,
                                             "Invalid write key");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* a key from a header is known now: refuse a bad one unread */

    if (ctx->write_key.len) {
        rc = ngx_http_kochava_check_app_id(r, klcf, ctx);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_kochava_answer_early(r, NGX_HTTP_UNAUTHORIZED,
                                                 "Invalid write key");
        }
    }

    r->request_body_in_single_buf = 1;
    ctx->reading_body = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_kochava_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_kochava_preflight(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_kochava_cors_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Access-Control-Allow-Methods");
    ngx_str_set(&h->value, "POST, OPTIONS");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Access-Control-Allow-Headers");
    ngx_str_set(&h->value,
                "Authorization, Content-Type, Content-Encoding, "
                "X-Retry-Count");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Access-Control-Max-Age");
    ngx_str_set(&h->value, "86400");

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* an answer decided before the body is read: the body is discarded */

static ngx_int_t
ngx_http_kochava_answer_early(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_kochava_send_error(r, status, message);
}


static ngx_http_kochava_encoding_e
ngx_http_kochava_encoding(ngx_http_request_t *r)
{
    ngx_str_t        *value;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    ngx_uint_t        i;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_HTTP_KOCHAVA_IDENTITY;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Content-Encoding") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Encoding",
                               h[i].key.len) != 0)
        {
            continue;
        }

        value = &h[i].value;

        if ((value->len == 4
             && ngx_strncasecmp(value->data, (u_char *) "gzip", 4) == 0)
            || (value->len == 6
                && ngx_strncasecmp(value->data, (u_char *) "x-gzip", 6) == 0))
        {
            return NGX_HTTP_KOCHAVA_GZIP;
        }

        if (value->len == 7
            && ngx_strncasecmp(value->data, (u_char *) "deflate", 7) == 0)
        {
            return NGX_HTTP_KOCHAVA_DEFLATE;
        }

        if (value->len == 8
            && ngx_strncasecmp(value->data, (u_char *) "identity", 8) == 0)
        {
            return NGX_HTTP_KOCHAVA_IDENTITY;
        }

        return NGX_HTTP_KOCHAVA_UNSUPPORTED;
    }
}


/*
 * The write key from "Authorization: Basic ..." or "Bearer ...".  A header
 * that carries a key too long to be one is NGX_DECLINED.
 */

static ngx_int_t
ngx_http_kochava_header_key(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    u_char           *key;
    size_t            len;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len == 0) {
        return NGX_OK;
    }

    key = ngx_pnalloc(r->pool, NGX_HTTP_KOCHAVA_MAX_KEY + 1);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = kochava_auth_write_key((const char *) h->value.data, h->value.len,
                                 (char *) key, NGX_HTTP_KOCHAVA_MAX_KEY + 1);

    if (len > NGX_HTTP_KOCHAVA_MAX_KEY) {
        return NGX_DECLINED;
    }

    ctx->write_key.data = key;
    ctx->write_key.len = len;

    return NGX_OK;
}


/*
 * Evaluates kochava_app_id once the write key is known (the value is
 * cached by "map"): NGX_DECLINED when it is empty.
 */

static ngx_int_t
ngx_http_kochava_check_app_id(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf, ngx_http_kochava_ctx_t *ctx)
{
    ctx->app_id_checked = 1;

    if (ngx_http_complex_value(r, klcf->app_id, &ctx->app_id) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->app_id.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: no App GUID for the write key, refused");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_kochava_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    ctx->reading_body = 0;

    if (ctx->body_lost) {
        ngx_http_finalize_request(r,
            ngx_http_kochava_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "Request body could not be "
                                        "buffered"));
        return;
    }

    rc = ngx_http_kochava_process(r, ctx);

    if (rc == NGX_DONE) {
        /* the fan-out answers the client when it is over */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


#if (nginx_version >= 1021002)

/*
 * In front of nginx's save filter.  A 500 from it is a body that could
 * not be kept (the temporary file cannot be written, or memory ran out):
 * what it holds is let go, the rest of the body is read and dropped
 * (marked consumed, so nginx's buffers stay free), and the body handler
 * answers 503.
 */

static ngx_int_t
ngx_http_kochava_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                 rc;
    ngx_chain_t              *cl, *ln;
    ngx_http_request_body_t  *rb;
    ngx_http_kochava_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (ctx == NULL || !ctx->reading_body) {
        return ngx_http_next_request_body_filter(r, in);
    }

    rb = r->request_body;

    if (!ctx->body_lost) {
        rc = ngx_http_next_request_body_filter(r, in);

        if (rc != NGX_HTTP_INTERNAL_SERVER_ERROR) {
            return rc;
        }

        ctx->body_lost = 1;

        ngx_http_kochava_ratelimit_log(&ngx_http_kochava_body_lost_log,
                                       NGX_LOG_ERR, r->connection->log, 0,
                                       "kochava: the request body could not "
                                       "be buffered (is client_body_temp_path "
                                       "full?), answered 503");

        for (cl = rb->bufs; cl; /* void */) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;

            ln = cl;
            cl = cl->next;
            ngx_free_chain(r->pool, ln);
        }

        rb->bufs = NULL;
    }

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;

        if (cl->buf->last_buf) {
            /* the reader's end of the body (the save filter's flag) */
            rb->last_saved = 1;
        }
    }

    return NGX_OK;
}

#endif


/*
 * Returns NGX_DONE when subrequests were started, otherwise what to
 * finalize the request with.
 */

static ngx_int_t
ngx_http_kochava_process(ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx)
{
    char                          err[256];
    size_t                        len;
    ngx_int_t                     rc;
    ngx_str_t                     body;
    const char                   *key, *error;
    kochava_req_t                 req;
    kochava_doc_t                *doc;
    ngx_pool_cleanup_t           *cln;
    kochava_allocator_t           alloc;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (r->request_body == NULL) {
        return ngx_http_kochava_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "Invalid JSON: empty body");
    }

    rc = ngx_http_kochava_request_body(r, &body);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_kochava_inflate(r, klcf, &body, &error);

    if (rc == NGX_DECLINED) {
        ctx->error.data = (u_char *) error;
        ctx->error.len = ngx_strlen(error);
        return ngx_http_kochava_send_error(r, NGX_HTTP_BAD_REQUEST, error);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body.len == 0) {
        return ngx_http_kochava_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "Invalid JSON: empty body");
    }

    rc = kochava_doc_parse(&klcf->core, ctx->call, (const char *) body.data,
                           body.len, &doc, err, sizeof(err));

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: body refused: %V",
                      ngx_http_kochava_log_text(r, err));

        ctx->error.len = ngx_strlen(err);
        ctx->error.data = ngx_pnalloc(r->pool, ctx->error.len);
        if (ctx->error.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->error.data, err, ctx->error.len);

        return ngx_http_kochava_send_error(r, rc, err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        kochava_doc_free(doc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kochava_doc_cleanup;
    cln->data = doc;

    if (!ctx->app_id_checked) {
        key = kochava_doc_write_key(doc, &len);

        if (key && len > NGX_HTTP_KOCHAVA_MAX_KEY) {
            return ngx_http_kochava_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                               "Invalid write key");
        }

        if (key) {
            ctx->write_key.data = (u_char *) key;
            ctx->write_key.len = len;
        }

        rc = ngx_http_kochava_check_app_id(r, klcf, ctx);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_kochava_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                               "Invalid write key");
        }
    }

    req.call = ctx->call;
    req.app_id = (const char *) ctx->app_id.data;
    req.app_id_len = ctx->app_id.len;
    req.client_ip = (const char *) r->connection->addr_text.data;
    req.client_ip_len = r->connection->addr_text.len;
    req.received_ms = (int64_t) r->start_sec * 1000 + r->start_msec;
    req.gdpr_applies = ngx_http_kochava_gdpr_applies(r, klcf);
    req.seen = klcf->dedup ? ngx_http_kochava_dedup_seen : NULL;
    req.seen_data = ctx;

    ngx_http_kochava_allocator(r, &alloc);

    if (kochava_doc_process(&klcf->core, &req, doc, &alloc, &ctx->result)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_kochava_metrics_result(&ctx->result);

    if (ctx->result.rejected) {
        ctx->error.data = (u_char *) ctx->result.rejects[0].error;
        ctx->error.len = ngx_strlen(ctx->error.data);

        ngx_http_kochava_log_rejects(r, &ctx->result);

        if (ctx->call != KOCHAVA_CALL_BATCH) {
            return ngx_http_kochava_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        ctx->result.rejects[0].error);
        }
    }

    if (ctx->result.braze_attributed || ctx->result.braze_organic) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: installs for Braze: %uD attributed, "
                      "%uD organic (not sent)", ctx->result.braze_attributed,
                      ctx->result.braze_organic);
    }

    /* the fleet store, when there is one, then delivery */
    return ngx_http_kochava_admit(r, ctx);
}


/*
 * kochava_gdpr_applies: "1" or "0"; anything else (an empty value, a
 * country the map does not know) leaves gdpr_applies out.
 */

static kochava_gdpr_e
ngx_http_kochava_gdpr_applies(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf)
{
    ngx_str_t  value;

    if (klcf->gdpr_applies == NULL
        || ngx_http_complex_value(r, klcf->gdpr_applies, &value) != NGX_OK
        || value.len != 1)
    {
        return KOCHAVA_GDPR_UNKNOWN;
    }

    if (value.data[0] == '1') {
        return KOCHAVA_GDPR_YES;
    }

    if (value.data[0] == '0') {
        return KOCHAVA_GDPR_NO;
    }

    return KOCHAVA_GDPR_UNKNOWN;
}


/*
 * Inflates a compressed body in place of the raw one.  Returns NGX_OK, or
 * NGX_DECLINED with the text of the 400 to answer in *error.
 */

static ngx_int_t
ngx_http_kochava_inflate(ngx_http_request_t *r,
    ngx_http_kochava_loc_conf_t *klcf, ngx_str_t *body, const char **error)
{
    int                      rc;
    char                    *out;
    size_t                   len;
    ngx_pool_cleanup_t      *cln;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (ctx->encoding == NGX_HTTP_KOCHAVA_IDENTITY) {
        if (body->len > klcf->max_body_size) {
            *error = "Request body too large";
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    out = NULL;
    len = 0;

    rc = kochava_inflate((const char *) body->data, body->len,
                         klcf->max_body_size, &out, &len);

    cln->handler = ngx_http_kochava_free_cleanup;
    cln->data = out;

    if (rc == KOCHAVA_INFLATE_TOO_LARGE) {
        *error = "Request body too large";
        return NGX_DECLINED;
    }

    if (rc != 0) {
        *error = "Invalid compressed body: cannot inflate";
        return NGX_DECLINED;
    }

    body->data = (u_char *) out;
    body->len = len;

    return NGX_OK;
}


/* client mistakes are logged at "info", as nginx logs its own */

static void
ngx_http_kochava_log_rejects(ngx_http_request_t *r, kochava_result_t *res)
{
    ngx_uint_t  i;

    for (i = 0; i < res->rejected; i++) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: message %uD rejected (%s): %V",
                      res->rejects[i].index,
                      kochava_reason_name(res->rejects[i].reason),
                      ngx_http_kochava_log_text(r, res->rejects[i].error));
    }
}


static void
ngx_http_kochava_doc_cleanup(void *data)
{
    kochava_doc_free(data);
}


static void
ngx_http_kochava_free_cleanup(void *data)
{
    free(data);
}
