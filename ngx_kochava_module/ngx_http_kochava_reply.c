
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the handlers share: JSON answers (with CORS headers where the
 * location asks for them), the request body in one piece, log-safe text
 * and the core's allocator over the request pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_reply.h"


static void *ngx_http_kochava_pool_alloc(void *data, size_t size);


static ngx_str_t  ngx_http_kochava_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_kochava_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t                   len;
    const char              *json;
    kochava_allocator_t      alloc;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    /* $kochava_error: the first error; message may be on the stack */

    if (ctx && ctx->error.len == 0) {
        len = ngx_strlen(message);

        ctx->error.data = ngx_pnalloc(r->pool, len);
        if (ctx->error.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->error.data, message, len);
        ctx->error.len = len;
    }

    ngx_http_kochava_allocator(r, &alloc);

    json = kochava_error_json(message, &alloc, &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kochava_send_json(r, status, json, len);
}


/* the 200 of an accepted call: {"success":true} and what was refused */

ngx_int_t
ngx_http_kochava_send_result(ngx_http_request_t *r, kochava_result_t *result)
{
    size_t               len;
    const char          *json;
    kochava_allocator_t  alloc;

    ngx_http_kochava_allocator(r, &alloc);

    json = kochava_result_json(result, &alloc, &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kochava_send_json(r, NGX_HTTP_OK, json, len);
}


ngx_int_t
ngx_http_kochava_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *body, size_t len)
{
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_table_elt_t              *h;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_kochava_json_type;
    r->headers_out.content_type_len = ngx_http_kochava_json_type.len;
    r->headers_out.content_length_n = len;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");

        ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

        if (klcf->postback != NGX_CONF_UNSET_UINT) {
            ngx_str_set(&h->value, "GET, POST");

        } else if (ctx && ctx->settings) {
            ngx_str_set(&h->value, "GET, HEAD");

        } else {
            ngx_str_set(&h->value, "POST, OPTIONS");
        }
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%T", klcf->retry_after)
                       - h->value.data;
    }

    if (klcf->cors && ngx_http_kochava_cors_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) body;
    b->last = b->pos + len;
    b->start = b->pos;
    b->end = b->last;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* browsers: the Origin is mirrored, as analytics.js sends credentials */

ngx_int_t
ngx_http_kochava_cors_headers(ngx_http_request_t *r)
{
    ngx_str_t         origin;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *header;
    ngx_uint_t        i;

    ngx_str_set(&origin, "*");

    part = &r->headers_in.headers.part;
    header = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            header = part->elts;
            i = 0;
        }

        if (header[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(header[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1) == 0
            && header[i].value.len)
        {
            origin = header[i].value;
            break;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Access-Control-Allow-Origin");
    h->value = origin;

    if (origin.len == 1 && origin.data[0] == '*') {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Access-Control-Allow-Credentials");
    ngx_str_set(&h->value, "true");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Vary");
    ngx_str_set(&h->value, "Origin");

    return NGX_OK;
}


/* the body as one piece of memory, wherever nginx buffered it */

ngx_int_t
ngx_http_kochava_request_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = r->request_body->bufs;

    if (cl == NULL) {
        ngx_str_null(body);
        return NGX_OK;
    }

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    body->data = ngx_pnalloc(r->pool, len ? len : 1);
    if (body->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "kochava: could not read the buffered body");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * A text that may quote the client's bytes (the parser's "near '...'"),
 * made safe for a log line: control bytes become \xNN, so a CR/LF in a
 * body can never start a line of its own.
 */

ngx_str_t *
ngx_http_kochava_log_text(ngx_http_request_t *r, const char *text)
{
    size_t      len;
    u_char     *p;
    ngx_str_t  *out;
    ngx_uint_t  i, n;

    static ngx_str_t  failed = ngx_string("(no memory)");

    len = ngx_strlen(text);

    out = ngx_palloc(r->pool, sizeof(ngx_str_t));
    p = ngx_pnalloc(r->pool, len * 4 + 1);

    if (out == NULL || p == NULL) {
        return &failed;
    }

    out->data = p;

    for (i = 0; i < len; i++) {
        n = (u_char) text[i];

        if (n < 0x20 || n == 0x7f) {
            p = ngx_sprintf(p, "\\x%02xi", n);
            continue;
        }

        *p++ = (u_char) n;
    }

    out->len = p - out->data;

    return out;
}


void
ngx_http_kochava_allocator(ngx_http_request_t *r, kochava_allocator_t *a)
{
    a->alloc = ngx_http_kochava_pool_alloc;
    a->data = r->pool;
}


/* aligned: the core allocates arrays of structures through it too */

static void *
ngx_http_kochava_pool_alloc(void *data, size_t size)
{
    return ngx_palloc(data, size);
}
