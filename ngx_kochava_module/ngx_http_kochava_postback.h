
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_POSTBACK_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_POSTBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the content handler of a "kochava_postback" location */
ngx_int_t ngx_http_kochava_postback_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_KOCHAVA_POSTBACK_H_INCLUDED_ */
