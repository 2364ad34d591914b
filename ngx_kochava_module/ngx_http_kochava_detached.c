
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The detached request: a connection without a socket (fd -1, never in
 * the event loop) and a request in a pool of its own, carrying the
 * configuration of the client request it was made from, so that
 * subrequests can run on it after the client is answered and gone.  The
 * same technique as lua-nginx-module's ngx.timer and nchan's fake
 * requests; everything that depends on nginx's request internals is in
 * this file, to be diffed on nginx upgrades.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_detached.h"


static ngx_connection_t *ngx_http_kochava_fake_connection(
    ngx_http_request_t *r, ngx_pool_t *pool);


/*
 * A request of its own, on a connection of its own, detached from r's:
 * r's configuration (main, server, location), copies of what logs and
 * variables read from r, and a pool that outlives r.  NULL: no memory.
 */

ngx_http_request_t *
ngx_http_kochava_detached_create(ngx_http_request_t *r)
{
    ngx_log_t                  *log;
    ngx_time_t                 *tp;
    ngx_pool_t                 *pool;
    ngx_connection_t           *c;
    ngx_http_request_t         *fr;
    ngx_http_log_ctx_t         *lctx;
    ngx_http_core_main_conf_t  *cmcf;

    pool = ngx_create_pool(4096, r->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    c = ngx_http_kochava_fake_connection(r, pool);
    if (c == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    /* the pool outlives the client's connection, and its log with it */
    pool->log = c->log;

    /* its log: the client location's, naming the detached request */

    log = c->log;

    lctx = ngx_pcalloc(pool, sizeof(ngx_http_log_ctx_t));
    if (lctx == NULL) {
        goto failed;
    }

    fr = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    if (fr == NULL) {
        goto failed;
    }

    lctx->connection = c;
    lctx->request = fr;
    lctx->current_request = fr;

    log->data = lctx;
    log->handler = r->connection->log->handler;
    log->action = "delivering to kochava";

    c->data = fr;
    c->requests++;

    fr->signature = NGX_HTTP_MODULE;
    fr->connection = c;
    fr->pool = pool;
    fr->main = fr;
    fr->count = 1;

    fr->main_conf = r->main_conf;
    fr->srv_conf = r->srv_conf;
    fr->loc_conf = r->loc_conf;

    fr->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    if (fr->ctx == NULL) {
        goto failed;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    fr->variables = ngx_pcalloc(pool, cmcf->variables.nelts
                                      * sizeof(ngx_http_variable_value_t));
    if (fr->variables == NULL) {
        goto failed;
    }

    if (ngx_list_init(&fr->headers_in.headers, pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&fr->headers_out.headers, pool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        goto failed;
    }

    fr->headers_in.content_length_n = -1;
    fr->headers_in.keep_alive_n = -1;
    fr->headers_out.content_length_n = -1;
    fr->headers_out.last_modified_time = -1;

    if (ngx_http_kochava_copy_str(pool, &fr->headers_in.server,
                                  &r->headers_in.server) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->request_line,
                                     &r->request_line) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->uri, &r->uri) != NGX_OK
        || ngx_http_kochava_copy_str(pool, &fr->unparsed_uri,
                                     &r->unparsed_uri) != NGX_OK)
    {
        goto failed;
    }

    fr->method = NGX_HTTP_POST;
    ngx_str_set(&fr->method_name, "POST");
    fr->http_version = NGX_HTTP_VERSION_11;
    ngx_str_set(&fr->http_protocol, "HTTP/1.1");
    fr->log_handler = r->log_handler;
    fr->uri_changes = NGX_HTTP_MAX_URI_CHANGES + 1;
    fr->subrequests = NGX_HTTP_MAX_SUBREQUESTS + 1;
    fr->http_state = NGX_HTTP_PROCESS_REQUEST_STATE;
    tp = ngx_timeofday();
    fr->start_sec = tp->sec;
    fr->start_msec = tp->msec;

    /* no access log line of its own: the client's request has one */
    fr->logged = 1;

    return fr;

failed:

    ngx_http_kochava_detached_free(c);
    return NULL;
}


/*
 * Frees the detached request of connection c (c->data, if it was made)
 * with its connection and pool: the pool's cleanups run.
 */

void
ngx_http_kochava_detached_free(ngx_connection_t *c)
{
    ngx_pool_t          *pool;
    ngx_http_request_t  *fr;
    ngx_http_cleanup_t  *cln;

    pool = c->pool;
    fr = c->data;

    /* the upstream cleanups of finished subrequests are no-ops by now */

    if (fr) {
        for (cln = fr->cleanup; cln; cln = cln->next) {
            if (cln->handler) {
                cln->handler(cln->data);
            }
        }

        fr->cleanup = NULL;
    }

    c->destroyed = 1;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    c->fd = 0;
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    ngx_destroy_pool(pool);
}


/*
 * A connection slot with no socket: its events are never in the event
 * loop.  The client's addresses are copied, so that $remote_addr and
 * friends still mean something in the pass locations.
 */

static ngx_connection_t *
ngx_http_kochava_fake_connection(ngx_http_request_t *r, ngx_pool_t *pool)
{
    ngx_log_t         *log;
    ngx_connection_t  *c, *rc, *saved;

    rc = r->connection;

    log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (log == NULL) {
        return NULL;
    }

    *log = *rc->log;
    log->connection = 0;

    /* with fd 0 where there is a table of files; given back at once */

    saved = ngx_cycle->files ? ngx_cycle->files[0] : NULL;

    c = ngx_get_connection(0, log);

    if (ngx_cycle->files) {
        ngx_cycle->files[0] = saved;
    }

    if (c == NULL) {
        return NULL;
    }

    c->fd = (ngx_socket_t) -1;
    c->pool = pool;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    log->connection = c->number;
    c->log_error = NGX_ERROR_INFO;

    /*
     * The upstream module adds the client connection's events to the
     * event loop unless they look active already; a write event that is
     * ready gets no send timer either.  A read event that was ready would
     * be posted: it is not.
     */
    c->read->active = 1;
    c->read->ready = 0;
    c->write->active = 1;
    c->write->ready = 1;
    c->read->handler = ngx_http_empty_handler;
    c->write->handler = ngx_http_empty_handler;

    c->listening = rc->listening;
    c->socklen = rc->socklen;
    c->local_socklen = rc->local_socklen;

    if (rc->sockaddr) {
        c->sockaddr = ngx_palloc(pool, rc->socklen);
        if (c->sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(c->sockaddr, rc->sockaddr, rc->socklen);
    }

    if (rc->local_sockaddr) {
        c->local_sockaddr = ngx_palloc(pool, rc->local_socklen);
        if (c->local_sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(c->local_sockaddr, rc->local_sockaddr, rc->local_socklen);
    }

    if (ngx_http_kochava_copy_str(pool, &c->addr_text, &rc->addr_text)
        != NGX_OK)
    {
        goto failed;
    }

    return c;

failed:

    c->fd = 0;
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    return NULL;
}


ngx_int_t
ngx_http_kochava_copy_str(ngx_pool_t *pool, ngx_str_t *to, ngx_str_t *from)
{
    to->len = from->len;

    if (from->len == 0) {
        to->data = (u_char *) "";
        return NGX_OK;
    }

    to->data = ngx_pnalloc(pool, from->len);
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, from->data, from->len);

    return NGX_OK;
}
