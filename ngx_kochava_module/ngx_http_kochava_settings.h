
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_SETTINGS_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SETTINGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* how long the libraries and caches may keep the settings */
#define NGX_HTTP_KOCHAVA_SETTINGS_MAX_AGE  "public, max-age=300"


/*
 * Answers <location>/projects/<writeKey>/settings; NGX_DECLINED when the
 * request is for another path (the ingest handler goes on).
 */
ngx_int_t ngx_http_kochava_settings(ngx_http_request_t *r);


#endif /* _NGX_HTTP_KOCHAVA_SETTINGS_H_INCLUDED_ */
