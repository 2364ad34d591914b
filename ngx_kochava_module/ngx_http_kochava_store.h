
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The fleet-wide de-duplication store: "kochava_dedup_zone name:size
 * store=<upstream>" puts the ids of a zone into the memcached servers of
 * an upstream block as well (docs/decisions.md, "The fleet store").
 *
 * What the fan-out calls:
 *
 *   ngx_http_kochava_store_id()       the key of App GUID + messageId
 *   ngx_http_kochava_store_reserve()  one pipelined round trip per
 *                                     server for all ids; a verdict each
 *   ngx_http_kochava_store_confirm()  delivered, spooled or refused for
 *                                     good: the full ttl (in the background)
 *   ngx_http_kochava_store_release()  failed retryably and not spooled:
 *                                     the reservations this request won go
 *   ngx_http_kochava_store_check()    what the fleet knows, reserving
 *                                     nothing (an unknown id is "new")
 *
 * A store that fails (refused, time-out, garbage) never fails a request:
 * its ids are NGX_HTTP_KOCHAVA_STORE_FAILED, to be forwarded (fail open).
 */


#ifndef _NGX_HTTP_KOCHAVA_STORE_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_store.h"


typedef enum {
    NGX_HTTP_KOCHAVA_STORE_NEW = 0,      /* reserved by this request */
    NGX_HTTP_KOCHAVA_STORE_DUPLICATE,    /* delivered before */
    NGX_HTTP_KOCHAVA_STORE_RESERVED,     /* reserved elsewhere, in flight */
    NGX_HTTP_KOCHAVA_STORE_FAILED        /* no answer: fail open */
} ngx_http_kochava_store_verdict_e;

#define NGX_HTTP_KOCHAVA_STORE_NVERDICTS  4


/* one id of a batch: its key, and what reserve() found */
typedef struct {
    kochava_store_key_t           key;
    uint64_t                      cas;       /* of our reservation; 0 */
    ngx_uint_t                    verdict;
} ngx_http_kochava_store_id_t;


typedef struct ngx_http_kochava_store_s  ngx_http_kochava_store_t;


/*
 * Called once with the verdicts in ids[] (the array reserve() was given),
 * unless r was finalized first: then never.
 */
typedef void (*ngx_http_kochava_store_handler_pt)(ngx_http_request_t *r,
    void *data, ngx_http_kochava_store_id_t *ids, ngx_uint_t n);


/*
 * kochava_dedup_zone's parameters store= and store_timeout=; then the
 * zone's name, ttl and reserve (its own parameters)
 */
ngx_int_t ngx_http_kochava_store_param(ngx_conf_t *cf,
    ngx_http_kochava_store_t **store, ngx_str_t *value);
char *ngx_http_kochava_store_zone(ngx_conf_t *cf,
    ngx_http_kochava_store_t *store, ngx_str_t *zone, time_t ttl,
    time_t reserve);

/* postconfiguration: every store= names an upstream block, or nginx -t
 * fails */
ngx_int_t ngx_http_kochava_store_init(ngx_conf_t *cf);

void ngx_http_kochava_store_id(ngx_http_kochava_store_id_t *sid,
    ngx_str_t *app_id, const char *id, size_t len);

/*
 * ids[] (in r->pool) are reserved: NGX_AGAIN, handler will be called;
 * NGX_OK, the verdicts are there already (no server could be asked:
 * FAILED); NGX_ERROR, no memory.
 */
ngx_int_t ngx_http_kochava_store_reserve(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, ngx_http_kochava_store_id_t *ids,
    ngx_uint_t n, ngx_http_kochava_store_handler_pt handler, void *data);

/* as reserve, read only */
ngx_int_t ngx_http_kochava_store_check(ngx_http_request_t *r,
    ngx_http_kochava_store_t *store, ngx_http_kochava_store_id_t *ids,
    ngx_uint_t n, ngx_http_kochava_store_handler_pt handler, void *data);

/* fire and forget: the keys are copied, r may end at once */
void ngx_http_kochava_store_confirm(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n);
void ngx_http_kochava_store_release(ngx_http_kochava_store_t *store,
    ngx_http_kochava_store_id_t *ids, ngx_uint_t n);

/* the kochava_dedup_store_* families, for the status page */
u_char *ngx_http_kochava_store_status(u_char *p, u_char *last);

/* "kochava_dedup_store_probe zone;": ids by hand (docs/operations.md) */
char *ngx_http_kochava_store_probe(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the store of a kochava_dedup_zone (ngx_http_kochava_dedup.c), or NULL */
ngx_http_kochava_store_t *ngx_http_kochava_dedup_store(
    ngx_shm_zone_t *zone);


#endif /* _NGX_HTTP_KOCHAVA_STORE_H_INCLUDED_ */
