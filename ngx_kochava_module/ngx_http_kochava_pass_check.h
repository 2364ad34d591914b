
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx -t for the pass locations: where the pass URIs of each location
 * that sends lead among the locations of its server.
 */


#ifndef _NGX_HTTP_KOCHAVA_PASS_CHECK_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_PASS_CHECK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * From postconfiguration (the location trees are built by then): each
 * pass URI of the locations recorded in the main configuration's "roles"
 * is looked up as ngx_http_core_find_location() will look up its
 * subrequest.  A URI that leads to no location, to a redirect, to one of
 * the module's locations or to a location without a content handler is
 * refused ([emerg], NGX_ERROR); a location that is not "internal" is
 * warned about, once.
 */
ngx_int_t ngx_http_kochava_pass_check(ngx_conf_t *cf);


#endif /* _NGX_HTTP_KOCHAVA_PASS_CHECK_H_INCLUDED_ */
