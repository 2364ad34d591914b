
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


char *ngx_http_kochava_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kochava_dedup(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* kochava_req_t.seen: data is the request's ngx_http_kochava_ctx_t */
int ngx_http_kochava_dedup_seen(void *data, const char *id, size_t len);

/*
 * Records the messages of one outbound request as delivered (on "ok" or
 * "permanent", or once it is on disk): in the zone of r's
 * "kochava_dedup", under the App GUID app_id, for out->ids.  r may be
 * any request with the ingest location's configuration (the detached
 * request of a fan-out).
 */
void ngx_http_kochava_dedup_confirm(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out);

/*
 * The messages of one outbound request failed and are nowhere (or nginx
 * answered for the pass location itself): a retry must be let through.
 */
void ngx_http_kochava_dedup_release(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out);

/* the kochava_dedup_entries family, for the status page */
u_char *ngx_http_kochava_dedup_status(u_char *p, u_char *last);


#endif /* _NGX_HTTP_KOCHAVA_DEDUP_H_INCLUDED_ */
