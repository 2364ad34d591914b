
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* $kochava_write_key, $kochava_error, $kochava_messages, ... */
ngx_int_t ngx_http_kochava_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_KOCHAVA_VARIABLES_H_INCLUDED_ */
