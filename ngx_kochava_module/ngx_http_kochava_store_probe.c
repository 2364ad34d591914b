
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * "kochava_dedup_store_probe;": the fleet store by hand, for an operator
 * (is this messageId known to the fleet?) and for the tests:
 *
 *   GET ...?zone=<kochava_dedup_zone>&app=<App GUID>&ids=<id>,<id>...
 *           &op=check            {"verdicts":["new",...],"cas":[..]}
 *                                (read only: "new" is unknown)
 *           &op=reserve          the same, reserving the new ones
 *           &op=confirm          {"ok":"sent"} (202)
 *           &op=release&cas=<cas>,<cas>...
 *
 * reserve, confirm and release write into the store: keep it behind
 * "allow 127.0.0.1; deny all;" as the status location
 * (docs/operations.md).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_dedup.h"


/* ids of one probe at most, as a batch's messages */
#define NGX_HTTP_KOCHAVA_PROBE_MAX  2500


static ngx_int_t ngx_http_kochava_probe_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kochava_probe_unescape(ngx_http_request_t *r,
    ngx_str_t *s);
static void ngx_http_kochava_probe_reserved(ngx_http_request_t *r,
    void *data, ngx_http_kochava_store_id_t *ids, ngx_uint_t n);
static ngx_int_t ngx_http_kochava_probe_verdicts(ngx_http_request_t *r,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n);
static ngx_int_t ngx_http_kochava_probe_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);
static ngx_int_t ngx_http_kochava_probe_text(ngx_http_request_t *r,
    ngx_uint_t status, const char *text);


static const char  *ngx_http_kochava_probe_names[] = {
    "new", "duplicate", "reserved", "failed"
};


char *
ngx_http_kochava_store_probe(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kochava_probe_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kochava_probe_handler(ngx_http_request_t *r)
{
    u_char                        *p, *end, *c, *cend;
    ngx_int_t                      rc;
    ngx_str_t                      zone, op, app, ids, cas, id;
    ngx_uint_t                     i, n;
    ngx_shm_zone_t               **zones;
    ngx_http_kochava_store_t      *store;
    ngx_http_kochava_store_id_t   *sids;
    ngx_http_kochava_main_conf_t  *kmcf;

    if (!(r->method & NGX_HTTP_GET)) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "zone", 4, &zone) != NGX_OK
        || ngx_http_arg(r, (u_char *) "op", 2, &op) != NGX_OK
        || ngx_http_arg(r, (u_char *) "app", 3, &app) != NGX_OK
        || ngx_http_arg(r, (u_char *) "ids", 3, &ids) != NGX_OK
        || ids.len == 0)
    {
        return ngx_http_kochava_probe_text(r, NGX_HTTP_BAD_REQUEST,
                                           "zone, op, app and ids are "
                                           "needed");
    }

    if (ngx_http_arg(r, (u_char *) "cas", 3, &cas) != NGX_OK) {
        ngx_str_null(&cas);
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kochava_module);
    zones = kmcf->dedup_zones.elts;
    store = NULL;

    for (i = 0; i < kmcf->dedup_zones.nelts; i++) {
        if (zones[i]->shm.name.len == zone.len
            && ngx_strncmp(zones[i]->shm.name.data, zone.data, zone.len) == 0)
        {
            store = ngx_http_kochava_dedup_store(zones[i]);
            break;
        }
    }

    if (store == NULL) {
        return ngx_http_kochava_probe_text(r, NGX_HTTP_NOT_FOUND,
                                           "no kochava_dedup_zone of that "
                                           "name has a store");
    }

    n = 1;

    for (p = ids.data; p < ids.data + ids.len; p++) {
        n += (*p == ',');
    }

    if (n > NGX_HTTP_KOCHAVA_PROBE_MAX) {
        return ngx_http_kochava_probe_text(r, NGX_HTTP_BAD_REQUEST,
                                           "too many ids");
    }

    sids = ngx_pcalloc(r->pool, n * sizeof(ngx_http_kochava_store_id_t));
    if (sids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ids.data;
    c = cas.data;
    cend = cas.data + cas.len;

    /* ids and App GUID as the client escaped them: %2C is a comma */

    if (ngx_http_kochava_probe_unescape(r, &app) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        end = ngx_strlchr(p, ids.data + ids.len, ',');
        end = end ? end : ids.data + ids.len;

        id.data = p;
        id.len = end - p;

        if (ngx_http_kochava_probe_unescape(r, &id) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_kochava_store_id(&sids[i], &app, (const char *) id.data,
                                  id.len);
        p = end + 1;

        if (c && c < cend) {
            end = ngx_strlchr(c, cend, ',');
            end = end ? end : cend;
            sids[i].cas = (uint64_t) ngx_atoof(c, end - c);
            sids[i].cas = (sids[i].cas == (uint64_t) NGX_ERROR)
                          ? 0 : sids[i].cas;
            c = end + 1;
        }
    }

    if ((op.len == 7 && ngx_strncmp(op.data, "reserve", 7) == 0)
        || (op.len == 5 && ngx_strncmp(op.data, "check", 5) == 0))
    {
        rc = (op.len == 5)
             ? ngx_http_kochava_store_check(r, store, sids, n,
                                            ngx_http_kochava_probe_reserved,
                                            NULL)
             : ngx_http_kochava_store_reserve(r, store, sids, n,
                                              ngx_http_kochava_probe_reserved,
                                              NULL);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_AGAIN) {
            r->main->count++;
            return NGX_DONE;
        }

        return ngx_http_kochava_probe_verdicts(r, sids, n);
    }

    if (op.len == 7 && ngx_strncmp(op.data, "confirm", 7) == 0) {
        ngx_http_kochava_store_confirm(store, sids, n);

    } else if (op.len == 7 && ngx_strncmp(op.data, "release", 7) == 0) {
        ngx_http_kochava_store_release(store, sids, n);

    } else {
        return ngx_http_kochava_probe_text(r, NGX_HTTP_BAD_REQUEST,
                                           "op is check, reserve, confirm "
                                           "or release");
    }

    return ngx_http_kochava_probe_text(r, NGX_HTTP_ACCEPTED, "sent");
}


/* a copy in r->pool, %XX decoded */

static ngx_int_t
ngx_http_kochava_probe_unescape(ngx_http_request_t *r, ngx_str_t *s)
{
    u_char  *dst, *src;

    dst = ngx_pnalloc(r->pool, s->len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    src = s->data;
    s->data = dst;

    ngx_unescape_uri(&dst, &src, s->len, 0);

    s->len = dst - s->data;

    return NGX_OK;
}


static void
ngx_http_kochava_probe_reserved(ngx_http_request_t *r, void *data,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_http_finalize_request(r, ngx_http_kochava_probe_verdicts(r, ids, n));
}


static ngx_int_t
ngx_http_kochava_probe_verdicts(ngx_http_request_t *r,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_buf_t   *b;
    ngx_uint_t   i;

    b = ngx_create_temp_buf(r->pool, 32 + n * (sizeof("\"duplicate\",") - 1
                                               + NGX_INT64_LEN + 1));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"verdicts\":[", 13);

    for (i = 0; i < n; i++) {
        b->last = ngx_sprintf(b->last, "%s\"%s\"", i ? "," : "",
                              ngx_http_kochava_probe_names[ids[i].verdict]);
    }

    b->last = ngx_cpymem(b->last, "],\"cas\":[", 9);

    for (i = 0; i < n; i++) {
        b->last = ngx_sprintf(b->last, "%s%uL", i ? "," : "", ids[i].cas);
    }

    b->last = ngx_cpymem(b->last, "]}\n", 3);

    return ngx_http_kochava_probe_send(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_kochava_probe_text(ngx_http_request_t *r, ngx_uint_t status,
    const char *text)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, ngx_strlen(text) + 16);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"%s\":\"%s\"}\n",
                          status < NGX_HTTP_BAD_REQUEST ? "ok" : "error",
                          text);

    return ngx_http_kochava_probe_send(r, status, b);
}


static ngx_int_t
ngx_http_kochava_probe_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
