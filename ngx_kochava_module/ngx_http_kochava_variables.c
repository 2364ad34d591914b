
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * $kochava_* variables: what the edge did with a request, for log_format
 * and for "map $kochava_write_key $kochava_app".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_variables.h"


typedef enum {
    NGX_HTTP_KOCHAVA_VAR_MESSAGES = 0,
    NGX_HTTP_KOCHAVA_VAR_ACCEPTED,
    NGX_HTTP_KOCHAVA_VAR_REJECTED,
    NGX_HTTP_KOCHAVA_VAR_SKIPPED,
    NGX_HTTP_KOCHAVA_VAR_OUTBOUND,
    NGX_HTTP_KOCHAVA_VAR_DEDUPLICATED
} ngx_http_kochava_count_e;


static ngx_int_t ngx_http_kochava_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kochava_count_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_kochava_vars[] = {

    { ngx_string("kochava_write_key"), NULL,
      ngx_http_kochava_str_variable,
      offsetof(ngx_http_kochava_ctx_t, write_key),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_error"), NULL,
      ngx_http_kochava_str_variable,
      offsetof(ngx_http_kochava_ctx_t, error),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_messages"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_MESSAGES,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_accepted"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_ACCEPTED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_rejected"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_REJECTED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_skipped"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_SKIPPED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_outbound"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_OUTBOUND,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kochava_deduplicated"), NULL,
      ngx_http_kochava_count_variable, NGX_HTTP_KOCHAVA_VAR_DEDUPLICATED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_kochava_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kochava_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* a string of the request's context, at offset data; empty: not found */

static ngx_int_t
ngx_http_kochava_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *value;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kochava_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    value = (ngx_str_t *) ((char *) ctx + data);

    if (value->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = value->data;
    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_count_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                  *p;
    uint32_t                 n;
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kochava_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_KOCHAVA_VAR_MESSAGES:
        n = ctx->result.messages;
        break;

    case NGX_HTTP_KOCHAVA_VAR_ACCEPTED:
        n = ctx->result.accepted;
        break;

    case NGX_HTTP_KOCHAVA_VAR_REJECTED:
        n = ctx->result.rejected;
        break;

    case NGX_HTTP_KOCHAVA_VAR_SKIPPED:
        n = ctx->result.skipped;
        break;

    case NGX_HTTP_KOCHAVA_VAR_DEDUPLICATED:
        n = ctx->result.deduplicated;
        break;

    default: /* NGX_HTTP_KOCHAVA_VAR_OUTBOUND */
        n = ctx->result.nouts;
        break;
    }

    p = ngx_pnalloc(r->pool, NGX_INT32_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uD", n) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
