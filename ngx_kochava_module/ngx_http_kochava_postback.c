
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Attribution postback locations (kochava_postback kochava | tune): a
 * partner calls the URL written in its dashboard, by GET with the values
 * in the query string or by POST with a form or a JSON object; an
 * attributed install goes on to the location's kochava_braze_pass.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_postback.h"
#include "ngx_http_kochava_deliver.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_metrics.h"


static void ngx_http_kochava_postback_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_postback_process(ngx_http_request_t *r,
    ngx_str_t *params, ngx_uint_t json);
static ngx_uint_t ngx_http_kochava_postback_is_json(ngx_http_request_t *r,
    ngx_str_t *body);


static const char  *ngx_http_kochava_postback_names[] = {
    "kochava",
    "tune"
};


ngx_int_t
ngx_http_kochava_postback_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_kochava_ctx_t  *ctx;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_kochava_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "Method not allowed");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->call = KOCHAVA_CALL_TRACK;

    ngx_http_set_ctx(r, ctx, ngx_http_kochava_module);

    if (r->method == NGX_HTTP_GET) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_kochava_postback_process(r, &r->args, 0);

        if (rc == NGX_DONE) {
            /*
             * No body was read, so no reference was taken for the
             * NGX_DONE below: take one, the fan-out's answer releases it.
             */
            r->main->count++;
        }

        return rc;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_kochava_postback_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_kochava_postback_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    rc = ngx_http_kochava_request_body(r, &body);

    if (rc == NGX_OK) {
        rc = ngx_http_kochava_postback_process(r, &body,
                              ngx_http_kochava_postback_is_json(r, &body));
    }

    if (rc == NGX_DONE) {
        /* the subrequest to Braze answers the partner when it is over */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Returns NGX_DONE when a subrequest to Braze was started, otherwise what
 * to finalize the request with.
 */

static ngx_int_t
ngx_http_kochava_postback_process(ngx_http_request_t *r, ngx_str_t *params,
    ngx_uint_t json)
{
    int                           rc;
    char                          err[256];
    const char                   *source;
    kochava_allocator_t           alloc;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    ngx_http_kochava_allocator(r, &alloc);

    source = ngx_http_kochava_postback_names[klcf->postback];

    rc = kochava_postback(&klcf->core, (kochava_postback_e) klcf->postback,
                          json ? 1 : 0, (const char *) params->data,
                          params->len,
                          (int64_t) r->start_sec * 1000 + r->start_msec,
                          &alloc, &ctx->result, err, sizeof(err));

    if (rc == -1) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: %s postback refused: %V", source,
                      ngx_http_kochava_log_text(r, err));

        return ngx_http_kochava_send_error(r, rc, err);
    }

    ngx_http_kochava_metrics_result(&ctx->result);

    if (ctx->result.rejected) {
        ctx->error.data = (u_char *) ctx->result.rejects[0].error;
        ctx->error.len = ngx_strlen(ctx->error.data);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: %s postback of an attributed install "
                      "rejected: %V", source,
                      ngx_http_kochava_log_text(r,
                                             ctx->result.rejects[0].error));

        return ngx_http_kochava_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           ctx->result.rejects[0].error);
    }

    if (ctx->result.braze_organic) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: %s postback: organic install, not sent",
                      source);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kochava: %s postback: attributed install, "
                      "%uD request to Braze", source, ctx->result.nouts);
    }

    return ngx_http_kochava_deliver(r, ctx);
}


/*
 * A POST body is a JSON object when it says so, or when it looks like one
 * whatever it says; otherwise a form.
 */

static ngx_uint_t
ngx_http_kochava_postback_is_json(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char     *p, *last;
    ngx_str_t  *type;

    if (r->headers_in.content_type) {
        type = &r->headers_in.content_type->value;

        if (type->len >= sizeof("application/json") - 1
            && ngx_strncasecmp(type->data, (u_char *) "application/json",
                               sizeof("application/json") - 1) == 0)
        {
            return 1;
        }
    }

    last = body->data + body->len;

    for (p = body->data; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            return *p == '{';
        }
    }

    return 0;
}

