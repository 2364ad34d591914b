
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_DELIVER_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_DELIVER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


/*
 * The tail of the ingest and postback handlers: ctx's outputs go out as
 * the location's kochava_delivery says, and r is answered (now, or by
 * the sync fan-out).  Returns NGX_DONE, or what to finalize r with.
 */
ngx_int_t ngx_http_kochava_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


#endif /* _NGX_HTTP_KOCHAVA_DELIVER_H_INCLUDED_ */
