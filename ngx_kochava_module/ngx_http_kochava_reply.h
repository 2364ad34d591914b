
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_REPLY_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"


/* answers {"success":false,"error":message}; returns what to finalize */
ngx_int_t ngx_http_kochava_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);

/* answers 200 with the JSON of result; returns what to finalize */
ngx_int_t ngx_http_kochava_send_result(ngx_http_request_t *r,
    kochava_result_t *result);

/* answers body, a JSON text of len bytes; returns what to finalize */
ngx_int_t ngx_http_kochava_send_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *body, size_t len);

/* the Access-Control-Allow-Origin answer header, when kochava_cors is on */
ngx_int_t ngx_http_kochava_cors_headers(ngx_http_request_t *r);

/* the request body as one piece of memory, wherever nginx buffered it */
ngx_int_t ngx_http_kochava_request_body(ngx_http_request_t *r,
    ngx_str_t *body);

/* text from a client, made safe and short for the error log */
ngx_str_t *ngx_http_kochava_log_text(ngx_http_request_t *r,
    const char *text);

/* the core's allocator over r's pool */
void ngx_http_kochava_allocator(ngx_http_request_t *r,
    kochava_allocator_t *a);


#endif /* _NGX_HTTP_KOCHAVA_REPLY_H_INCLUDED_ */
