
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * GET <location>/projects/<writeKey>/settings on an ingest location: the
 * settings Segment's mobile and browser libraries fetch before they send
 * (ingest.md).  The write key is checked as for any call; the answer
 * points the libraries' Segment.io destination at this location.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_reply.h"
#include "ngx_http_kochava_settings.h"


static ngx_int_t ngx_http_kochava_settings_api_host(ngx_http_request_t *r,
    kochava_settings_path_t *sp, kochava_settings_t *s);


ngx_int_t
ngx_http_kochava_settings(ngx_http_request_t *r)
{
    size_t                        len;
    ngx_int_t                     rc;
    const char                   *body;
    ngx_table_elt_t              *h;
    kochava_settings_t            s;
    kochava_allocator_t           alloc;
    kochava_settings_path_t       sp;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_loc_conf_t  *klcf;

    if (!kochava_settings_path((const char *) r->uri.data, r->uri.len, &sp))
    {
        return NGX_DECLINED;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    ctx->settings = 1;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_kochava_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "Method not allowed");
    }

    /* the key of the path is checked as a key of a call: unknown is 404 */

    if (sp.key_len > NGX_HTTP_KOCHAVA_MAX_KEY) {
        return ngx_http_kochava_send_error(r, NGX_HTTP_NOT_FOUND,
                                           "Not found");
    }

    ctx->write_key.data = (u_char *) sp.key;
    ctx->write_key.len = sp.key_len;

    /*
     * Nothing is logged on the way: every error log line of this request
     * would quote its request line, and so the key.
     */

    if (ngx_http_complex_value(r, klcf->app_id, &ctx->app_id) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->app_id_checked = 1;

    if (ctx->app_id.len == 0) {
        return ngx_http_kochava_send_error(r, NGX_HTTP_NOT_FOUND,
                                           "Not found");
    }

    s.key = sp.key;
    s.key_len = sp.key_len;

    if (ngx_http_kochava_settings_api_host(r, &sp, &s) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_kochava_allocator(r, &alloc);

    rc = kochava_settings_json(&s, &alloc, &body, &len);

    if (rc == 1) {
        /* a key or a Host that is not UTF-8: nothing a library can use */
        return ngx_http_kochava_send_error(r, NGX_HTTP_NOT_FOUND,
                                           "Not found");
    }

    if (rc != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, NGX_HTTP_KOCHAVA_SETTINGS_MAX_AGE);

    return ngx_http_kochava_send_json(r, NGX_HTTP_OK, body, len);
}


/*
 * "apiHost" (host and path, no scheme) and analytics.js's "protocol":
 * from kochava_settings_api_host ("[https://|http://]host[/path]", https
 * when no scheme is given), else the request's own Host and the path
 * before /projects/, with the request's scheme.
 */

static ngx_int_t
ngx_http_kochava_settings_api_host(ngx_http_request_t *r,
    kochava_settings_path_t *sp, kochava_settings_t *s)
{
    u_char                       *p;
    ngx_str_t                     value, host;
    ngx_http_core_srv_conf_t     *cscf;
    ngx_http_kochava_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->settings_api_host) {
        if (ngx_http_complex_value(r, klcf->settings_api_host, &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        s->https = 1;

        if (value.len >= sizeof("https://") - 1
            && ngx_strncasecmp(value.data, (u_char *) "https://",
                               sizeof("https://") - 1) == 0)
        {
            value.data += sizeof("https://") - 1;
            value.len -= sizeof("https://") - 1;

        } else if (value.len >= sizeof("http://") - 1
                   && ngx_strncasecmp(value.data, (u_char *) "http://",
                                      sizeof("http://") - 1) == 0)
        {
            value.data += sizeof("http://") - 1;
            value.len -= sizeof("http://") - 1;
            s->https = 0;
        }

        while (value.len && value.data[value.len - 1] == '/') {
            value.len--;
        }

        s->api_host = (const char *) value.data;
        s->api_host_len = value.len;

        return NGX_OK;
    }

#if (NGX_HTTP_SSL)
    s->https = r->connection->ssl ? 1 : 0;
#else
    s->https = 0;
#endif

    /* the Host as sent (with its port: "127.0.0.1:8080"), nginx-checked */

    if (r->headers_in.host && r->headers_in.host->value.len) {
        host = r->headers_in.host->value;

    } else if (r->headers_in.server.len) {
        host = r->headers_in.server;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;
    }

    p = ngx_pnalloc(r->pool, host.len + sp->prefix_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->api_host = (const char *) p;
    s->api_host_len = host.len + sp->prefix_len;

    p = ngx_cpymem(p, host.data, host.len);
    ngx_memcpy(p, r->uri.data, sp->prefix_len);

    return NGX_OK;
}
