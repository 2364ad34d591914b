
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_ASYNC_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_ASYNC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


/*
 * Writes ctx's outputs to the spool's journal and runs their fan-out on a
 * detached request.  Returns NGX_OK: the client is answered now.
 */
ngx_int_t ngx_http_kochava_async_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


#endif /* _NGX_HTTP_KOCHAVA_ASYNC_H_INCLUDED_ */
