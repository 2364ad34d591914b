
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_INGEST_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_INGEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the content handler of a "kochava_ingest" location */
ngx_int_t ngx_http_kochava_ingest_handler(ngx_http_request_t *r);

/* postconfiguration: the ingest request body filter */
ngx_int_t ngx_http_kochava_ingest_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_KOCHAVA_INGEST_H_INCLUDED_ */
