
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_OFFLOAD_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_OFFLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_fanout.h"


typedef struct ngx_http_kochava_offload_s  ngx_http_kochava_offload_t;

typedef void (*ngx_http_kochava_offload_pt)(ngx_http_kochava_offload_t *o);


/*
 * A fan-out that runs on a detached request of its own, with copies of
 * the client's outputs, so that nothing the client does (going away, an
 * HTTP/2 stream reset) cancels it.  Made by the sync and the async
 * deliverers, which embed it first in a struct of their own.
 */
struct ngx_http_kochava_offload_s {
    ngx_http_kochava_ctx_t        ctx;            /* the detached request's */
    ngx_http_kochava_fanout_t     fanout;

    /* the fan-out is over: before the detached request is freed */
    ngx_http_kochava_offload_pt   done;
    /* the detached request's pool goes, however it goes */
    ngx_http_kochava_offload_pt   cleanup;

    ngx_event_t                   free;
};


/*
 * A detached request made from r with a zeroed struct of size bytes (at
 * least the offload's) in its pool, whose offload carries copies of
 * ctx's App GUID and outputs.  NULL: no memory.
 */
ngx_http_kochava_offload_t *ngx_http_kochava_offload_create(
    ngx_http_request_t *r, ngx_http_kochava_ctx_t *ctx, size_t size);

/*
 * Starts o's fan-out (its flags set by the caller).  NGX_OK: done() comes
 * later.  NGX_ERROR: nothing started, and the caller frees o with
 * ngx_http_kochava_offload_free().
 */
ngx_int_t ngx_http_kochava_offload_start(ngx_http_kochava_offload_t *o);

void ngx_http_kochava_offload_free(ngx_http_kochava_offload_t *o);


#endif /* _NGX_HTTP_KOCHAVA_OFFLOAD_H_INCLUDED_ */
