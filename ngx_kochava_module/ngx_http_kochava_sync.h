
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_SYNC_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SYNC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


/*
 * Runs the fan-out of ctx's outputs on r, which is answered when it is
 * over.  Returns NGX_DONE, or NGX_ERROR (nothing started).
 */
ngx_int_t ngx_http_kochava_sync_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


/*
 * Answers 503 + Retry-After for a request whose held messages (a copy in
 * flight elsewhere, ngx_http_kochava_dedup_seen) were not sent.
 */
ngx_int_t ngx_http_kochava_sync_held(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


#endif /* _NGX_HTTP_KOCHAVA_SYNC_H_INCLUDED_ */
