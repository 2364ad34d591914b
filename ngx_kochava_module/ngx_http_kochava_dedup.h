
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_DEDUP_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_DEDUP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_module.h"


char *ngx_http_kochava_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kochava_dedup(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * kochava_req_t.seen: data is the request's ngx_http_kochava_ctx_t.  An
 * id it lets through (KOCHAVA_SEEN_NEW) is reserved for the request, to
 * be confirmed or released when its outbound request is over.
 */
int ngx_http_kochava_dedup_seen(void *data, const char *id, size_t len);

/*
 * The messages of one outbound request were delivered, refused for good,
 * or are on disk: out->ids are confirmed (the zone's ttl) under the App
 * GUID app_id in the zone of r's "kochava_dedup".  r may be any request
 * with the ingest location's configuration and a context (the detached
 * request of a fan-out).
 */
void ngx_http_kochava_dedup_confirm(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out);

/*
 * They failed and are nowhere (or are not to be recorded): the ids that
 * r's request reserved or confirmed are deleted, so the next copy goes.
 */
void ngx_http_kochava_dedup_release(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out);

/*
 * The fan-out of r is over (before its client is answered): the fleet
 * store's confirms of its outputs go in one call.
 */
void ngx_http_kochava_dedup_commit(ngx_http_request_t *r);

/*
 * Every output of ctx is confirmed now (async: they are in the spool's
 * journal); later confirms of the request do nothing.
 */
void ngx_http_kochava_dedup_confirm_all(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);

/* one id in r's local zone only: confirmed (1) or released (0) */
void ngx_http_kochava_dedup_local(ngx_http_request_t *r, ngx_str_t *app_id,
    const kochava_id_t *id, ngx_uint_t confirm);

/* what the detached request of a fan-out (sync or async) needs of from's */
ngx_int_t ngx_http_kochava_dedup_copy(ngx_pool_t *pool,
    ngx_http_kochava_ctx_t *to, ngx_http_kochava_ctx_t *from);

/* the kochava_dedup_entries family, for the status page */
u_char *ngx_http_kochava_dedup_status(u_char *p, u_char *last);


#endif /* _NGX_HTTP_KOCHAVA_DEDUP_H_INCLUDED_ */
