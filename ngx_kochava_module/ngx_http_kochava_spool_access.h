
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx -t, start and reload: the spool directories must be ones the
 * workers' user can use.
 */


#ifndef _NGX_HTTP_KOCHAVA_SPOOL_ACCESS_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SPOOL_ACCESS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * From postconfiguration: when the configuration has spools, each is
 * checked once nginx has created its paths (the spools among them), in
 * the cycle that is being set up; one that the workers' user cannot
 * list, write and enter fails it ([emerg]: nginx -t fails, nginx does
 * not start, a reload keeps the running configuration).
 */
ngx_int_t ngx_http_kochava_spool_access_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_KOCHAVA_SPOOL_ACCESS_H_INCLUDED_ */
