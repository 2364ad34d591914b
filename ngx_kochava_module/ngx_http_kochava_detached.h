
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_DETACHED_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_DETACHED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_http_request_t *ngx_http_kochava_detached_create(ngx_http_request_t *r);
void ngx_http_kochava_detached_free(ngx_connection_t *c);

ngx_int_t ngx_http_kochava_copy_str(ngx_pool_t *pool, ngx_str_t *to,
    ngx_str_t *from);


#endif /* _NGX_HTTP_KOCHAVA_DETACHED_H_INCLUDED_ */
