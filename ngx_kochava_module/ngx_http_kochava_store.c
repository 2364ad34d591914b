
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The fleet store's client (ngx_http_kochava_store.h): memcached's meta
 * protocol on nginx's event loop.  The servers are an upstream block's
 * (addresses resolved when the configuration is read, weight, max_fails,
 * fail_timeout, down); the keys of one call are spread over them by the
 * ring of kochava_store.c, and each server gets one pipelined write of
 * all of its keys on a connection of its own (ngx_event_connect_peer, or
 * one kept alive from an earlier call), so a call costs one round trip
 * per server.  Connect, send and read each have store_timeout.
 *
 * Not through ngx_http_upstream and a subrequest (docs/decisions.md):
 * confirm and release outlive the request that sent them, and a key must
 * reach the one server the ring names, which no balancer does.
 *
 * A failure (connect refused, time-out, an answer the parser refuses)
 * closes the connection, makes the server's ids FAILED (the caller
 * forwards them: fail open), is counted and logged at most once a second
 * per worker.  After max_fails failures in a row a server is skipped
 * for fail_timeout (its keys go to the next server of the ring), then
 * one call probes it; each worker keeps its own count, as nginx's round
 * robin does without a zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_store.h"
#include "ngx_http_kochava_ratelimit.h"


/* idle connections kept per server and worker, and for how long */
#define NGX_HTTP_KOCHAVA_STORE_IDLE          16
#define NGX_HTTP_KOCHAVA_STORE_IDLE_TIMEOUT  60000

/* what one read takes at most; the parser needs no more */
#define NGX_HTTP_KOCHAVA_STORE_READ          4096

#define NGX_HTTP_KOCHAVA_STORE_TIMEOUT       100


typedef struct ngx_http_kochava_store_server_s
    ngx_http_kochava_store_server_t;


typedef struct {
    ngx_queue_t                          queue;
    ngx_connection_t                    *connection;
    ngx_http_kochava_store_server_t     *server;
} ngx_http_kochava_store_idle_t;


struct ngx_http_kochava_store_server_s {
    ngx_str_t                            name;      /* "ip:port" */
    ngx_addr_t                          *addr;
    ngx_uint_t                           max_fails;
    time_t                               fail_timeout;

    ngx_uint_t                           fails;     /* in a row */
    time_t                               checked;   /* last failure or
                                                       probe */
    ngx_queue_t                          cache;     /* idle, newest first */
    ngx_queue_t                          free;
    ngx_http_kochava_store_idle_t        idle[NGX_HTTP_KOCHAVA_STORE_IDLE];

    unsigned                             down:1;
};


struct ngx_http_kochava_store_s {
    ngx_str_t                            upstream;
    ngx_str_t                            zone;
    u_char                              *file;      /* of the directive */
    ngx_uint_t                           line;

    ngx_msec_t                           timeout;
    time_t                               reserve;
    time_t                               ttl;

    ngx_http_kochava_store_server_t     *servers;
    ngx_uint_t                           nservers;
    kochava_store_ring_t                 ring;

    /* a call's scratch (calls do not nest) */
    u_char                              *usable;
    ngx_uint_t                          *count;

    ngx_http_kochava_ratelimit_t         errors;    /* this worker's */
};


/* one reserve, confirm or release: all ids, all servers */
typedef struct {
    ngx_pool_t                          *pool;      /* its own */
    ngx_http_kochava_store_t            *store;
    kochava_store_op_e                   kind;
    ngx_http_kochava_store_id_t         *ids;
    ngx_uint_t                           n;
    ngx_uint_t                           pending;   /* servers, + 1 while
                                                       starting */
    ngx_http_request_t                  *request;   /* NULL: none, gone */
    ngx_pool_cleanup_t                  *cleanup;   /* on r->pool */
    ngx_http_kochava_store_handler_pt    handler;
    void                                *data;
} ngx_http_kochava_store_call_t;


/* one server's part of a call: one connection, one round trip */
typedef struct {
    ngx_http_kochava_store_call_t       *call;
    ngx_http_kochava_store_server_t     *server;
    ngx_peer_connection_t                peer;

    u_char                              *pos;       /* still to send */
    u_char                              *last;
    u_char                              *buf;       /* for reads */

    uint32_t                            *idx;       /* opaque -> id */
    ngx_uint_t                           n;
    kochava_store_reply_t               *replies;
    kochava_store_parser_t               parser;

    ngx_msec_t                           start;
    unsigned                             connecting:1;
    unsigned                             sent:1;
    unsigned                             local:1;   /* not the server's
                                                       fault */
} ngx_http_kochava_store_op_t;


static ngx_int_t ngx_http_kochava_store_servers(ngx_conf_t *cf,
    ngx_http_kochava_store_t *store, ngx_http_upstream_srv_conf_t *uscf);
static ngx_int_t ngx_http_kochava_store_ask(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, kochava_store_op_e kind,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n,
    ngx_http_kochava_store_handler_pt handler, void *data);
static ngx_http_kochava_store_call_t *ngx_http_kochava_store_call(
    ngx_http_kochava_store_t *store, kochava_store_op_e kind);
static void ngx_http_kochava_store_send_ids(ngx_http_kochava_store_t *store,
    kochava_store_op_e kind, ngx_http_kochava_store_id_t *ids, ngx_uint_t n);
static ngx_uint_t ngx_http_kochava_store_start(
    ngx_http_kochava_store_call_t *call);
static ngx_int_t ngx_http_kochava_store_op(ngx_http_kochava_store_call_t *call,
    ngx_uint_t s, ngx_uint_t *server_of);
static void ngx_http_kochava_store_connect(ngx_http_kochava_store_op_t *op);
static void ngx_http_kochava_store_write_handler(ngx_event_t *wev);
static void ngx_http_kochava_store_send(ngx_http_kochava_store_op_t *op);
static void ngx_http_kochava_store_read_handler(ngx_event_t *rev);
static void ngx_http_kochava_store_answered(ngx_http_kochava_store_op_t *op);
static void ngx_http_kochava_store_fail(ngx_http_kochava_store_op_t *op,
    const char *why);
static void ngx_http_kochava_store_finish(ngx_http_kochava_store_op_t *op);
static void ngx_http_kochava_store_done(ngx_http_kochava_store_call_t *call);
static void ngx_http_kochava_store_cancel(void *data);
static void ngx_http_kochava_store_keepalive(ngx_http_kochava_store_op_t *op);
static void ngx_http_kochava_store_idle_handler(ngx_event_t *ev);
static void ngx_http_kochava_store_dummy_handler(ngx_event_t *ev);
static void ngx_http_kochava_store_error(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_server_t *server, kochava_store_op_e kind,
    const char *why);
static void ngx_http_kochava_store_observe(ngx_msec_t ms);
static u_char *ngx_http_kochava_store_counters(u_char *p, u_char *last,
    const char *name, const char *help, const char *label,
    const char **values, ngx_atomic_t *counters, ngx_uint_t n);


static ngx_msec_t  ngx_http_kochava_store_buckets[] = {
    NGX_HTTP_KOCHAVA_STORE_BUCKETS
};

static const char  *ngx_http_kochava_store_le[] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1"
};

static const char  *ngx_http_kochava_store_ops[] = {
    "reserve", "confirm", "release", "check"
};

static const char  *ngx_http_kochava_store_verdicts[] = {
    "new", "duplicate", "reserved", "failed"
};


/* one parameter of kochava_dedup_zone; NGX_DECLINED: not the store's */

ngx_int_t
ngx_http_kochava_store_param(ngx_conf_t *cf, ngx_http_kochava_store_t **sp,
    ngx_str_t *value)
{
    ngx_str_t                  s;
    ngx_flag_t                 upstream;
    ngx_msec_t                 ms;
    ngx_http_kochava_store_t  *store;

    if (ngx_strncmp(value->data, "store=", 6) == 0) {
        upstream = 1;

    } else if (ngx_strncmp(value->data, "store_timeout=", 14) == 0) {
        upstream = 0;

    } else {
        return NGX_DECLINED;
    }

    store = *sp;

    if (store == NULL) {
        store = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_store_t));
        if (store == NULL) {
            return NGX_ERROR;
        }

        store->timeout = NGX_CONF_UNSET_MSEC;
        store->file = cf->conf_file->file.name.data;
        store->line = cf->conf_file->line;

        *sp = store;
    }

    s.data = (u_char *) ngx_strchr(value->data, '=') + 1;
    s.len = value->data + value->len - s.data;

    if (upstream) {

        if (s.len == 0 || store->upstream.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid or duplicate \"%V\", \"store=<name "
                               "of an upstream block of memcached servers>\" "
                               "is expected", value);
            return NGX_ERROR;
        }

        store->upstream = s;

        return NGX_OK;
    }

    ms = ngx_parse_time(&s, 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\", a time such as \"100ms\" is "
                           "expected", value);
        return NGX_ERROR;
    }

    store->timeout = ms;

    return NGX_OK;
}


/* after all parameters of one kochava_dedup_zone */

char *
ngx_http_kochava_store_zone(ngx_conf_t *cf, ngx_http_kochava_store_t *store,
    ngx_str_t *zone, time_t ttl, time_t reserve)
{
    if (store->upstream.len == 0) {
        return "has \"store_timeout=\" without \"store=\": name the "
               "upstream block of memcached servers with "
               "\"store=<upstream>\"";
    }

    ngx_conf_init_msec_value(store->timeout, NGX_HTTP_KOCHAVA_STORE_TIMEOUT);

    store->zone = *zone;
    store->ttl = ttl;
    store->reserve = reserve;

    return NGX_CONF_OK;
}


/*
 * postconfiguration, when every upstream block is read: each store names
 * one (not a name only proxy_pass made up), and the ring is built.
 */

ngx_int_t
ngx_http_kochava_store_init(ngx_conf_t *cf)
{
    ngx_uint_t                       i, j;
    ngx_shm_zone_t                 **zones;
    ngx_http_kochava_store_t        *store;
    ngx_http_upstream_srv_conf_t   **uscfp, *uscf;
    ngx_http_upstream_main_conf_t   *umcf;
    ngx_http_kochava_main_conf_t    *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);
    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    zones = kmcf->dedup_zones.elts;

    for (i = 0; i < kmcf->dedup_zones.nelts; i++) {
        store = ngx_http_kochava_dedup_store(zones[i]);

        if (store == NULL) {
            continue;
        }

        uscf = NULL;
        uscfp = umcf->upstreams.elts;

        for (j = 0; j < umcf->upstreams.nelts; j++) {
            if ((uscfp[j]->flags & NGX_HTTP_UPSTREAM_CREATE)
                && uscfp[j]->servers
                && uscfp[j]->host.len == store->upstream.len
                && ngx_strncasecmp(uscfp[j]->host.data, store->upstream.data,
                                   store->upstream.len)
                   == 0)
            {
                uscf = uscfp[j];
                break;
            }
        }

        if (uscf == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"kochava_dedup_zone\" %V: store=%V names no "
                          "upstream block; add \"upstream %V { server "
                          "127.0.0.1:11211; }\" with the memcached servers "
                          "to http{}, or remove \"store=\" in %s:%ui",
                          &store->zone, &store->upstream, &store->upstream,
                          store->file, store->line);
            return NGX_ERROR;
        }

        if (ngx_http_kochava_store_servers(cf, store, uscf) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_store_servers(ngx_conf_t *cf, ngx_http_kochava_store_t *store,
    ngx_http_upstream_srv_conf_t *uscf)
{
    size_t                            *lens;
    unsigned                          *weights;
    ngx_uint_t                         i, j, k, n;
    const char                       **names;
    kochava_store_point_t             *points;
    ngx_http_upstream_server_t        *us;
    ngx_http_kochava_store_server_t   *server;

    us = uscf->servers->elts;
    n = 0;

    for (i = 0; i < uscf->servers->nelts; i++) {
        if (us[i].backup) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"kochava_dedup_zone\" %V: the \"backup\" "
                          "server %V of upstream %V is not supported by "
                          "the store; list it as a server of its own in "
                          "%s:%ui", &store->zone, &us[i].name,
                          &store->upstream, uscf->file_name, uscf->line);
            return NGX_ERROR;
        }

        n += us[i].naddrs;
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kochava_dedup_zone\" %V: upstream %V has no "
                      "server; add \"server <memcached host>:11211;\" in "
                      "%s:%ui", &store->zone, &store->upstream,
                      uscf->file_name, uscf->line);
        return NGX_ERROR;
    }

    store->servers = ngx_pcalloc(cf->pool,
                                 n * sizeof(ngx_http_kochava_store_server_t));
    names = ngx_palloc(cf->pool, n * sizeof(char *));
    lens = ngx_palloc(cf->pool, n * sizeof(size_t));
    weights = ngx_palloc(cf->pool, n * sizeof(unsigned));
    store->usable = ngx_palloc(cf->pool, n);
    store->count = ngx_palloc(cf->pool, n * sizeof(ngx_uint_t));

    if (store->servers == NULL || names == NULL || lens == NULL
        || weights == NULL || store->usable == NULL || store->count == NULL)
    {
        return NGX_ERROR;
    }

    /* one ring member per address: a name resolving to two is two */

    k = 0;

    for (i = 0; i < uscf->servers->nelts; i++) {
        for (j = 0; j < us[i].naddrs; j++) {
            server = &store->servers[k];

            server->addr = &us[i].addrs[j];
            server->name = us[i].addrs[j].name;
            server->max_fails = us[i].max_fails;
            server->fail_timeout = us[i].fail_timeout;
            server->down = us[i].down ? 1 : 0;

            ngx_queue_init(&server->cache);
            ngx_queue_init(&server->free);

            for (n = 0; n < NGX_HTTP_KOCHAVA_STORE_IDLE; n++) {
                server->idle[n].server = server;
                ngx_queue_insert_tail(&server->free, &server->idle[n].queue);
            }

            names[k] = (const char *) server->name.data;
            lens[k] = server->name.len;
            weights[k] = (unsigned) us[i].weight;
            k++;
        }
    }

    store->nservers = k;

    points = ngx_palloc(cf->pool, kochava_store_ring_size(weights, k)
                                  * sizeof(kochava_store_point_t));
    if (points == NULL) {
        return NGX_ERROR;
    }

    if (kochava_store_ring_build(&store->ring, points, names, lens, weights,
                                 k)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_kochava_store_id(ngx_http_kochava_store_id_t *sid, ngx_str_t *app_id,
    const char *id, size_t len)
{
    kochava_store_key(&sid->key, (const char *) app_id->data, app_id->len,
                      id, len);
    sid->cas = 0;
    sid->verdict = NGX_HTTP_KOCHAVA_STORE_FAILED;
}


ngx_int_t
ngx_http_kochava_store_reserve(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, ngx_http_kochava_store_id_t *ids,
    ngx_uint_t n, ngx_http_kochava_store_handler_pt handler, void *data)
{
    return ngx_http_kochava_store_ask(r, store, KOCHAVA_STORE_RESERVE, ids,
                                      n, handler, data);
}


ngx_int_t
ngx_http_kochava_store_check(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, ngx_http_kochava_store_id_t *ids,
    ngx_uint_t n, ngx_http_kochava_store_handler_pt handler, void *data)
{
    return ngx_http_kochava_store_ask(r, store, KOCHAVA_STORE_CHECK, ids, n,
                                      handler, data);
}


/* reserve and check: verdicts into the caller's ids[] */

static ngx_int_t
ngx_http_kochava_store_ask(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, kochava_store_op_e kind,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n,
    ngx_http_kochava_store_handler_pt handler, void *data)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_kochava_store_call_t  *call;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    call = ngx_http_kochava_store_call(store, kind);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->ids = ids;
    call->n = n;
    call->request = r;
    call->handler = handler;
    call->data = data;

    if (ngx_http_kochava_store_start(call) == 0) {

        /* over before any answer was waited for (no cleanup yet): the
         * verdicts are counted, the handler is not called */

        ngx_http_kochava_store_done(call);

        return NGX_OK;
    }

    cln->handler = ngx_http_kochava_store_cancel;
    cln->data = call;
    call->cleanup = cln;

    return NGX_AGAIN;
}


void
ngx_http_kochava_store_confirm(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_http_kochava_store_send_ids(store, KOCHAVA_STORE_CONFIRM, ids, n);
}


void
ngx_http_kochava_store_release(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_http_kochava_store_send_ids(store, KOCHAVA_STORE_RELEASE, ids, n);
}


/* confirm and release: a copy of the ids, nobody waits */

static void
ngx_http_kochava_store_send_ids(ngx_http_kochava_store_t *store,
    kochava_store_op_e kind, ngx_http_kochava_store_id_t *ids, ngx_uint_t n)
{
    ngx_http_kochava_store_call_t  *call;

    if (n == 0) {
        return;
    }

    call = ngx_http_kochava_store_call(store, kind);

    if (call) {
        call->ids = ngx_palloc(call->pool,
                               n * sizeof(ngx_http_kochava_store_id_t));
    }

    if (call == NULL || call->ids == NULL) {
        ngx_http_kochava_store_error(store, NULL, kind, "no memory");

        if (call) {
            ngx_destroy_pool(call->pool);
        }

        return;
    }

    ngx_memcpy(call->ids, ids, n * sizeof(ngx_http_kochava_store_id_t));
    call->n = n;

    if (ngx_http_kochava_store_start(call) == 0) {
        ngx_http_kochava_store_done(call);
    }
}


static ngx_http_kochava_store_call_t *
ngx_http_kochava_store_call(ngx_http_kochava_store_t *store,
    kochava_store_op_e kind)
{
    ngx_pool_t                     *pool;
    ngx_http_kochava_store_call_t  *call;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    call = ngx_pcalloc(pool, sizeof(ngx_http_kochava_store_call_t));
    if (call == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    call->pool = pool;
    call->store = store;
    call->kind = kind;

    return call;
}


/*
 * Spreads the ids over the servers the circuit breaker lets through and
 * starts one round trip per server.  Returns how many are still pending
 * (0: the call is over, nothing will call back).
 */

static ngx_uint_t
ngx_http_kochava_store_start(ngx_http_kochava_store_call_t *call)
{
    int                               s;
    time_t                            now;
    ngx_uint_t                        i, failed, *server_of;
    ngx_http_kochava_store_t         *store;
    ngx_http_kochava_store_id_t      *id;
    ngx_http_kochava_store_server_t  *server;

    store = call->store;
    now = ngx_time();

    server_of = ngx_palloc(call->pool, call->n * sizeof(ngx_uint_t));
    if (server_of == NULL) {
        ngx_http_kochava_store_error(store, NULL, call->kind, "no memory");
        return 0;
    }

    for (i = 0; i < store->nservers; i++) {
        server = &store->servers[i];

        store->usable[i] = !server->down
                           && (server->max_fails == 0
                               || server->fails < server->max_fails
                               || now - server->checked
                                  >= server->fail_timeout);
        store->count[i] = 0;
    }

    failed = 0;

    for (i = 0; i < call->n; i++) {
        id = &call->ids[i];
        server_of[i] = NGX_CONF_UNSET_UINT;

        if (call->kind == KOCHAVA_STORE_RELEASE && id->cas == 0) {
            continue;
        }

        s = kochava_store_ring_pick(&store->ring,
                                    kochava_store_key_point(&id->key),
                                    store->usable);
        if (s < 0) {
            id->verdict = NGX_HTTP_KOCHAVA_STORE_FAILED;
            failed++;
            continue;
        }

        server_of[i] = (ngx_uint_t) s;
        store->count[s]++;
    }

    if (failed) {
        ngx_http_kochava_store_error(store, NULL, call->kind,
                                     "every server is skipped after "
                                     "failures");
    }

    call->pending = 1;

    for (i = 0; i < store->nservers; i++) {
        if (store->count[i] == 0) {
            continue;
        }

        server = &store->servers[i];

        if (server->max_fails && server->fails >= server->max_fails) {
            /* the circuit was open: this call is the one probe */
            server->checked = now;
        }

        if (ngx_http_kochava_store_op(call, i, server_of) != NGX_OK) {
            ngx_http_kochava_store_error(store, server, call->kind,
                                         "no memory");
        }
    }

    return --call->pending;
}


static ngx_int_t
ngx_http_kochava_store_op(ngx_http_kochava_store_call_t *call, ngx_uint_t s,
    ngx_uint_t *server_of)
{
    size_t                        len;
    ngx_uint_t                    i, k, n;
    ngx_http_kochava_store_t     *store;
    ngx_http_kochava_store_op_t  *op;

    store = call->store;
    n = store->count[s];

    op = ngx_pcalloc(call->pool, sizeof(ngx_http_kochava_store_op_t));
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->idx = ngx_palloc(call->pool, n * sizeof(uint32_t));
    op->replies = ngx_palloc(call->pool, n * sizeof(kochava_store_reply_t));
    op->buf = ngx_palloc(call->pool, NGX_HTTP_KOCHAVA_STORE_READ);
    op->pos = ngx_palloc(call->pool, n * KOCHAVA_STORE_CMD_MAX
                                     + sizeof(KOCHAVA_STORE_END));

    if (op->idx == NULL || op->replies == NULL || op->buf == NULL
        || op->pos == NULL)
    {
        return NGX_ERROR;
    }

    op->call = call;
    op->server = &store->servers[s];
    op->n = n;

    /* opaque k of this server's batch is id idx[k] of the call */

    op->last = op->pos;
    k = 0;

    for (i = 0; i < call->n; i++) {
        if (server_of[i] != s) {
            continue;
        }

        op->idx[k] = (uint32_t) i;
        op->last = (u_char *) kochava_store_command(
                       (char *) op->last, call->kind, &call->ids[i].key,
                       call->ids[i].cas,
                       (unsigned) (call->kind == KOCHAVA_STORE_RESERVE
                                   ? store->reserve : store->ttl),
                       (uint32_t) k);
        k++;
    }

    len = sizeof(KOCHAVA_STORE_END) - 1;
    op->last = ngx_cpymem(op->last, KOCHAVA_STORE_END, len);

    kochava_store_parser_init(&op->parser, op->replies, n);

    op->start = ngx_current_msec;
    call->pending++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "kochava: store %s of %ui ids to %V, %uz bytes",
                   ngx_http_kochava_store_ops[call->kind], n,
                   &op->server->name, (size_t) (op->last - op->pos));

    ngx_http_kochava_store_connect(op);

    return NGX_OK;
}


static void
ngx_http_kochava_store_connect(ngx_http_kochava_store_op_t *op)
{
    ngx_int_t                          rc;
    ngx_queue_t                       *q;
    ngx_connection_t                  *c;
    ngx_http_kochava_store_idle_t     *item;
    ngx_http_kochava_store_server_t   *server;

    server = op->server;

    if (!ngx_queue_empty(&server->cache)) {
        q = ngx_queue_head(&server->cache);
        ngx_queue_remove(q);
        ngx_queue_insert_head(&server->free, q);

        item = ngx_queue_data(q, ngx_http_kochava_store_idle_t, queue);
        c = item->connection;

        c->idle = 0;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        op->peer.connection = c;
        op->peer.cached = 1;

    } else {
        if (ngx_cycle->free_connection_n == 0) {
            /* worker_connections are taken: no fault of the server's */
            op->local = 1;
            ngx_http_kochava_store_fail(op, "no free connection in this "
                                            "worker (worker_connections)");
            return;
        }

        op->peer.sockaddr = server->addr->sockaddr;
        op->peer.socklen = server->addr->socklen;
        op->peer.name = &server->name;
        op->peer.get = ngx_event_get_peer;
        op->peer.log = ngx_cycle->log;
        op->peer.log_error = NGX_ERROR_INFO;     /* ours is logged */

        rc = ngx_event_connect_peer(&op->peer);

        if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
            ngx_http_kochava_store_fail(op, "connect() failed");
            return;
        }

        c = op->peer.connection;

        if (rc == NGX_AGAIN) {
            c->data = op;
            c->read->handler = ngx_http_kochava_store_read_handler;
            c->write->handler = ngx_http_kochava_store_write_handler;
            op->connecting = 1;

            ngx_add_timer(c->write, op->call->store->timeout);
            return;
        }
    }

    c->data = op;
    c->read->handler = ngx_http_kochava_store_read_handler;
    c->write->handler = ngx_http_kochava_store_write_handler;

    ngx_http_kochava_store_send(op);
}


static void
ngx_http_kochava_store_write_handler(ngx_event_t *wev)
{
    ngx_connection_t             *c;
    ngx_http_kochava_store_op_t  *op;

    c = wev->data;
    op = c->data;

    if (wev->timedout) {
        ngx_http_kochava_store_fail(op, op->connecting
                                        ? "connect() timed out"
                                        : "send timed out");
        return;
    }

    op->connecting = 0;

    ngx_http_kochava_store_send(op);
}


/*
 * The whole batch in one go if the socket takes it; the answer is read
 * as it comes, also while sending, so a long batch cannot deadlock on
 * two full socket buffers.
 */

static void
ngx_http_kochava_store_send(ngx_http_kochava_store_op_t *op)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = op->peer.connection;

    if (op->sent) {
        return;
    }

    while (op->pos < op->last) {
        n = c->send(c, op->pos, op->last - op->pos);

        if (n == NGX_ERROR) {
            ngx_http_kochava_store_fail(op, "send() failed");
            return;
        }

        if (n == NGX_AGAIN) {
            if (!c->write->timer_set) {
                ngx_add_timer(c->write, op->call->store->timeout);
            }

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_kochava_store_fail(op, "send() failed");
            }

            return;
        }

        op->pos += n;
    }

    op->sent = 1;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_add_timer(c->read, op->call->store->timeout);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_kochava_store_fail(op, "recv() failed");
        return;
    }

    if (c->read->ready) {
        ngx_http_kochava_store_read_handler(c->read);
    }
}


static void
ngx_http_kochava_store_read_handler(ngx_event_t *rev)
{
    int                           rc;
    size_t                        used;
    ssize_t                       n;
    ngx_connection_t             *c;
    ngx_http_kochava_store_op_t  *op;

    c = rev->data;
    op = c->data;

    if (rev->timedout) {
        ngx_http_kochava_store_fail(op, "timed out waiting for the answer");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, op->buf, NGX_HTTP_KOCHAVA_STORE_READ);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_kochava_store_fail(op, n ? "recv() failed"
                                              : "closed the connection");
            return;
        }

        rc = kochava_store_parse(&op->parser, (const char *) op->buf,
                                 (size_t) n, &used);

        if (rc == KOCHAVA_STORE_ERROR) {
            ngx_http_kochava_store_fail(op, op->parser.error);
            return;
        }

        if (rc == KOCHAVA_STORE_DONE) {
            if (used != (size_t) n || !op->sent) {
                ngx_http_kochava_store_fail(op, "answered what was not "
                                                "asked");
                return;
            }

            ngx_http_kochava_store_answered(op);
            return;
        }
    }

    if (op->sent) {
        ngx_add_timer(rev, op->call->store->timeout);
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_kochava_store_fail(op, "recv() failed");
    }
}


/* "MN" came: the replies become verdicts */

static void
ngx_http_kochava_store_answered(ngx_http_kochava_store_op_t *op)
{
    ngx_uint_t                      k, errors;
    kochava_store_reply_t          *reply;
    ngx_http_kochava_store_id_t    *id;
    ngx_http_kochava_store_call_t  *call;

    call = op->call;
    errors = 0;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "kochava: store %s to %V answered %uz of %ui ids "
                   "(the rest quietly)",
                   ngx_http_kochava_store_ops[call->kind], &op->server->name,
                   op->parser.answers, op->n);

#if (NGX_DEBUG)
    if (op->parser.answers > op->n
        || (call->kind == KOCHAVA_STORE_RESERVE
            && op->parser.answers != op->n))
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "kochava: store %s: %uz answers to %ui commands",
                      ngx_http_kochava_store_ops[call->kind],
                      op->parser.answers, op->n);
    }
#endif

    for (k = 0; k < op->n; k++) {
        reply = &op->replies[k];
        id = &call->ids[op->idx[k]];

        if (call->kind == KOCHAVA_STORE_CONFIRM
            || call->kind == KOCHAVA_STORE_RELEASE)
        {
            /* quiet: silence is success; EX/NF on a release are not
             * errors (expired, or no longer ours) */

            errors += (reply->reply == KOCHAVA_STORE_NOT_STORED);
            continue;
        }

        if (call->request == NULL) {
            continue;               /* ids[] went with the request */
        }

        switch (reply->reply) {

        case KOCHAVA_STORE_NONE:

            /* a check's quiet miss: unknown; a reserve always answers */

            id->verdict = (call->kind == KOCHAVA_STORE_CHECK)
                          ? NGX_HTTP_KOCHAVA_STORE_NEW
                          : NGX_HTTP_KOCHAVA_STORE_FAILED;
            errors += (call->kind != KOCHAVA_STORE_CHECK);
            break;

        case KOCHAVA_STORE_WON:
            id->verdict = NGX_HTTP_KOCHAVA_STORE_NEW;
            id->cas = reply->cas;
            break;

        case KOCHAVA_STORE_HELD:
            id->verdict = NGX_HTTP_KOCHAVA_STORE_RESERVED;
            break;

        case KOCHAVA_STORE_SEEN:
            id->verdict = NGX_HTTP_KOCHAVA_STORE_DUPLICATE;
            break;

        default:
            id->verdict = NGX_HTTP_KOCHAVA_STORE_FAILED;
            errors++;
            break;
        }
    }

    op->server->fails = 0;

    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(
            &ngx_http_kochava_metrics->store_round_trips[call->kind], 1);
    }

    ngx_http_kochava_store_observe(ngx_current_msec - op->start);

    if (errors) {
        ngx_http_kochava_store_error(call->store, op->server, call->kind,
                                     "keys left without an answer");
    }

    ngx_http_kochava_store_keepalive(op);
    ngx_http_kochava_store_finish(op);
}


static void
ngx_http_kochava_store_fail(ngx_http_kochava_store_op_t *op, const char *why)
{
    ngx_uint_t                      k;
    ngx_http_kochava_store_call_t  *call;

    call = op->call;

    if (op->peer.connection) {
        ngx_close_connection(op->peer.connection);
        op->peer.connection = NULL;
    }

    if (!op->local) {
        op->server->fails++;
        op->server->checked = ngx_time();
    }

    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(
            &ngx_http_kochava_metrics->store_round_trips[call->kind], 1);
    }

    ngx_http_kochava_store_error(call->store, op->server, call->kind, why);

    if ((call->kind == KOCHAVA_STORE_RESERVE
         || call->kind == KOCHAVA_STORE_CHECK)
        && call->request)
    {
        for (k = 0; k < op->n; k++) {
            call->ids[op->idx[k]].verdict = NGX_HTTP_KOCHAVA_STORE_FAILED;
        }
    }

    ngx_http_kochava_store_finish(op);
}


static void
ngx_http_kochava_store_finish(ngx_http_kochava_store_op_t *op)
{
    ngx_http_kochava_store_call_t  *call;

    call = op->call;

#if (NGX_DEBUG)
    if (call->pending == 0 || op->peer.connection) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "kochava: store call over twice, or with its "
                      "connection");
        return;
    }
#endif

    if (--call->pending == 0) {
        ngx_http_kochava_store_done(call);
    }
}


static void
ngx_http_kochava_store_done(ngx_http_kochava_store_call_t *call)
{
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    r = call->request;

    if (r) {
        if (ngx_http_kochava_metrics && call->kind == KOCHAVA_STORE_RESERVE) {
            for (i = 0; i < call->n; i++) {
                (void) ngx_atomic_fetch_add(
                    &ngx_http_kochava_metrics->store_verdicts[
                        call->ids[i].verdict],
                    1);
            }
        }

        if (call->cleanup) {
            call->cleanup->handler = NULL;
            call->handler(r, call->data, call->ids, call->n);
        }
    }

    ngx_destroy_pool(call->pool);
}


/* the request ended first: its ids[] are gone, nobody to call back */

static void
ngx_http_kochava_store_cancel(void *data)
{
    ngx_http_kochava_store_call_t *call = data;

    call->request = NULL;
    call->cleanup = NULL;
}


static void
ngx_http_kochava_store_keepalive(ngx_http_kochava_store_op_t *op)
{
    ngx_queue_t                      *q;
    ngx_connection_t                 *c;
    ngx_http_kochava_store_idle_t    *item;
    ngx_http_kochava_store_server_t  *server;

    c = op->peer.connection;
    server = op->server;
    op->peer.connection = NULL;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_terminate || ngx_exiting || ngx_queue_empty(&server->free)
        || c->read->eof || c->read->error || c->write->error
        || ngx_handle_read_event(c->read, 0) != NGX_OK)
    {
        ngx_close_connection(c);
        return;
    }

    q = ngx_queue_head(&server->free);
    ngx_queue_remove(q);
    ngx_queue_insert_head(&server->cache, q);

    item = ngx_queue_data(q, ngx_http_kochava_store_idle_t, queue);
    item->connection = c;

    c->data = item;
    c->idle = 1;
    c->read->handler = ngx_http_kochava_store_idle_handler;
    c->write->handler = ngx_http_kochava_store_dummy_handler;

    ngx_add_timer(c->read, NGX_HTTP_KOCHAVA_STORE_IDLE_TIMEOUT);

    if (c->read->ready) {
        ngx_http_kochava_store_idle_handler(c->read);
    }
}


/*
 * An idle connection: the server closed it, sent what nobody asked for,
 * it idled too long, or the worker is exiting (c->close): it goes.
 */

static void
ngx_http_kochava_store_idle_handler(ngx_event_t *ev)
{
    int                             n;
    char                            buf[1];
    ngx_connection_t               *c;
    ngx_http_kochava_store_idle_t  *item;

    c = ev->data;
    item = c->data;

    if (!c->close && !ev->timedout) {
        n = recv(c->fd, buf, 1, MSG_PEEK);

        if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
            ev->ready = 0;

            if (ngx_handle_read_event(ev, 0) == NGX_OK) {
                return;
            }
        }
    }

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&item->server->free, &item->queue);

    ngx_close_connection(c);
}


static void
ngx_http_kochava_store_dummy_handler(ngx_event_t *ev)
{
}


/* counted always, logged at most once a second per worker and store */

static void
ngx_http_kochava_store_error(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_server_t *server, kochava_store_op_e kind,
    const char *why)
{
    static ngx_str_t  all = ngx_string("(all)");

    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(
            &ngx_http_kochava_metrics->store_errors[kind], 1);
    }

    ngx_http_kochava_ratelimit_log(&store->errors, NGX_LOG_ERR,
                  ngx_cycle->log, 0,
                  "kochava: dedup store %V of zone \"%V\", server %V: %s "
                  "on %s; its ids are forwarded without the fleet check "
                  "(fail open; logged at most once a second)",
                  &store->upstream, &store->zone,
                  server ? &server->name : &all, why,
                  ngx_http_kochava_store_ops[kind]);
}


static void
ngx_http_kochava_store_observe(ngx_msec_t ms)
{
    ngx_uint_t                   i;
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_KOCHAVA_STORE_NBUCKETS; i++) {
        if (ms <= ngx_http_kochava_store_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->store_duration[i], 1);
    (void) ngx_atomic_fetch_add(&m->store_duration_ms, ms);
}


u_char *
ngx_http_kochava_store_status(u_char *p, u_char *last)
{
    ngx_uint_t                   i, ms;
    ngx_atomic_uint_t            n;
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        return p;
    }

    p = ngx_http_kochava_store_counters(p, last,
            "requests_total", "Round trips to a dedup store server, by "
            "operation.", "op", ngx_http_kochava_store_ops,
            m->store_round_trips, KOCHAVA_STORE_NOPS);

    p = ngx_http_kochava_store_counters(p, last,
            "errors_total", "Dedup store failures (refused, time-out, bad "
            "answer, every server skipped), by operation; the edge failed "
            "open.", "op", ngx_http_kochava_store_ops, m->store_errors,
            KOCHAVA_STORE_NOPS);

    p = ngx_http_kochava_store_counters(p, last,
            "ids_total", "Ids reserved in a dedup store, by verdict.",
            "verdict", ngx_http_kochava_store_verdicts, m->store_verdicts,
            NGX_HTTP_KOCHAVA_STORE_NVERDICTS);

    p = ngx_slprintf(p, last,
                     "# HELP kochava_dedup_store_duration_seconds Time of "
                     "an answered round trip to a dedup store server.\n"
                     "# TYPE kochava_dedup_store_duration_seconds "
                     "histogram\n");

    n = 0;

    for (i = 0; i < NGX_HTTP_KOCHAVA_STORE_NBUCKETS; i++) {
        n += m->store_duration[i];

        p = ngx_slprintf(p, last,
                         "kochava_dedup_store_duration_seconds_bucket{"
                         "le=\"%s\"} %uA\n", ngx_http_kochava_store_le[i], n);
    }

    n += m->store_duration[NGX_HTTP_KOCHAVA_STORE_NBUCKETS];
    ms = m->store_duration_ms;

    return ngx_slprintf(p, last,
                        "kochava_dedup_store_duration_seconds_bucket{"
                        "le=\"+Inf\"} %uA\n"
                        "kochava_dedup_store_duration_seconds_sum "
                        "%ui.%03ui\n"
                        "kochava_dedup_store_duration_seconds_count %uA\n",
                        n, ms / 1000, ms % 1000, n);
}


/* a family kochava_dedup_store_<name> of counters, one per label value */

static u_char *
ngx_http_kochava_store_counters(u_char *p, u_char *last, const char *name,
    const char *help, const char *label, const char **values,
    ngx_atomic_t *counters, ngx_uint_t n)
{
    ngx_uint_t  i;

    p = ngx_slprintf(p, last,
                     "# HELP kochava_dedup_store_%s %s\n"
                     "# TYPE kochava_dedup_store_%s counter\n",
                     name, help, name);

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "kochava_dedup_store_%s{%s=\"%s\"} %uA\n",
                         name, label, values[i], counters[i]);
    }

    return p;
}
