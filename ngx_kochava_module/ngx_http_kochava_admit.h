
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_ADMIT_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_ADMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"


/*
 * Between the core and the deliverer: with a fleet store, the outputs'
 * client ids are reserved there first, and what the fleet has seen is
 * not delivered.  Returns as ngx_http_kochava_deliver() does: NGX_DONE
 * (the request is answered later) or what to finalize it with.
 */
ngx_int_t ngx_http_kochava_admit(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);


#endif /* _NGX_HTTP_KOCHAVA_ADMIT_H_INCLUDED_ */
