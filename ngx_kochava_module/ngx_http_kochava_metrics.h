
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Counters in shared memory, summed over all workers (docs/metrics.md).
 */


#ifndef _NGX_HTTP_KOCHAVA_METRICS_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_store.h"


/* spool directories a configuration may name (each has its own gauge) */
#define NGX_HTTP_KOCHAVA_MAX_SPOOLS  16


/* upper bounds of kochava_upstream_duration_seconds, in milliseconds */
#define NGX_HTTP_KOCHAVA_BUCKETS                                              \
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000

#define NGX_HTTP_KOCHAVA_NBUCKETS    11

/* client answers counted by status; the last slot is "other" */
#define NGX_HTTP_KOCHAVA_STATUSES                                             \
    200, 204, 400, 401, 404, 405, 413, 415, 500, 503

#define NGX_HTTP_KOCHAVA_NSTATUSES   10

/* upper bounds of kochava_dedup_store_duration_seconds, in milliseconds */
#define NGX_HTTP_KOCHAVA_STORE_BUCKETS                                        \
    1, 2, 5, 10, 25, 50, 100, 250, 1000

#define NGX_HTTP_KOCHAVA_STORE_NBUCKETS  9


/* where a duplicate was caught: kochava_messages_deduplicated_total{where} */
typedef enum {
    NGX_HTTP_KOCHAVA_DEDUP_BATCH = 0,       /* a later copy in the request */
    NGX_HTTP_KOCHAVA_DEDUP_LOCAL,           /* the node's kochava_dedup_zone */
    NGX_HTTP_KOCHAVA_DEDUP_STORE            /* the fleet store */
} ngx_http_kochava_dedup_where_e;

#define NGX_HTTP_KOCHAVA_DEDUP_NWHERE  3


/*
 * The zone's only structure: ngx_atomic_t slots added to with
 * ngx_atomic_fetch_add() (no lock), read without one.
 */
typedef struct {
    ngx_uint_t     size;                    /* sizeof, checked on reuse */

    ngx_atomic_t   received[KOCHAVA_NTYPES];
    ngx_atomic_t   accepted;
    ngx_atomic_t   rejected[KOCHAVA_NREASONS];
    ngx_atomic_t   skipped;
    ngx_atomic_t   deduplicated[NGX_HTTP_KOCHAVA_DEDUP_NWHERE];

    ngx_atomic_t   upstream[KOCHAVA_NDESTS][KOCHAVA_NOUTCOMES];
    ngx_atomic_t   config_errors[KOCHAVA_NDESTS];  /* nginx answered */

    /* per bucket, not cumulative; the last is +Inf */
    ngx_atomic_t   duration[KOCHAVA_NDESTS][NGX_HTTP_KOCHAVA_NBUCKETS + 1];
    ngx_atomic_t   duration_ms[KOCHAVA_NDESTS];

    ngx_atomic_t   spool_records;
    ngx_atomic_t   spool_dropped;
    ngx_atomic_t   spool_bytes[NGX_HTTP_KOCHAVA_MAX_SPOOLS];
    ngx_atomic_t   journal_records;
    ngx_atomic_t   unjournaled;

    ngx_atomic_t   braze_attributed;
    ngx_atomic_t   braze_organic;

    ngx_atomic_t   requests[NGX_HTTP_KOCHAVA_NSTATUSES + 1];

    ngx_atomic_t   dedup_evicted;

    ngx_atomic_t   slot_waits;

    /* gauges: each worker adds and takes back its own part */
    ngx_atomic_t   in_flight;               /* outbound requests */
    ngx_atomic_t   slots_taken;             /* kochava_worker_concurrency */
    ngx_atomic_t   async_fanouts;           /* detached fan-outs running */

    /* the fleet store (ngx_http_kochava_store.c) */
    ngx_atomic_t   store_round_trips[KOCHAVA_STORE_NOPS];
    ngx_atomic_t   store_errors[KOCHAVA_STORE_NOPS];
    ngx_atomic_t   store_verdicts[NGX_HTTP_KOCHAVA_STORE_NVERDICTS];
    ngx_atomic_t   store_duration[NGX_HTTP_KOCHAVA_STORE_NBUCKETS + 1];
    ngx_atomic_t   store_duration_ms;
} ngx_http_kochava_metrics_t;


/* NULL until a worker found the zone, or when the module is not used */
extern ngx_http_kochava_metrics_t  *ngx_http_kochava_metrics;


/* ngx_http_kochava_metrics.c */

ngx_int_t ngx_http_kochava_metrics_add(ngx_conf_t *cf);
ngx_int_t ngx_http_kochava_metrics_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_kochava_metrics_init(ngx_conf_t *cf);

/* after a request's messages were processed */
void ngx_http_kochava_metrics_result(kochava_result_t *res);

/* an outbound request is over: its destination, outcome and duration */
void ngx_http_kochava_metrics_upstream(kochava_dest_e dest,
    kochava_outcome_e outcome, ngx_msec_t duration);

/* n messages de-duplicated where (res's are counted by _result()) */
void ngx_http_kochava_metrics_deduplicated(
    ngx_http_kochava_dedup_where_e where, ngx_uint_t n);
/* an outbound request that nginx answered itself, for its pass location */
void ngx_http_kochava_metrics_config_error(kochava_dest_e dest);

void ngx_http_kochava_metrics_dedup_evicted(ngx_uint_t n);

/* an outbound request started on a slot it had waited for */
void ngx_http_kochava_metrics_slot_waited(void);

/* the counter at offset in the zone goes up or down by n */
void ngx_http_kochava_metrics_gauge(size_t offset, ngx_int_t n);

/* gauges: this worker's outbound requests, slots, async fan-outs +- n */
#define ngx_http_kochava_metrics_in_flight(n)                                 \
    ngx_http_kochava_metrics_gauge(                                           \
        offsetof(ngx_http_kochava_metrics_t, in_flight), n)
#define ngx_http_kochava_metrics_slots_taken(n)                               \
    ngx_http_kochava_metrics_gauge(                                           \
        offsetof(ngx_http_kochava_metrics_t, slots_taken), n)
#define ngx_http_kochava_metrics_async_fanouts(n)                             \
    ngx_http_kochava_metrics_gauge(                                           \
        offsetof(ngx_http_kochava_metrics_t, async_fanouts), n)

/*
 * For the spool whose gauge is index (all are no-ops without the zone): a
 * failure record written (records_total++, its bytes), journal records
 * written, requests accepted without a journal, a record dropped, the
 * bytes in use changed, set from a scan of the directory, and read.
 */
void ngx_http_kochava_metrics_spooled(ngx_uint_t index, size_t bytes);
void ngx_http_kochava_metrics_journaled(ngx_uint_t index, ngx_uint_t n,
    size_t bytes);
void ngx_http_kochava_metrics_unjournaled(ngx_uint_t n);
void ngx_http_kochava_metrics_spool_dropped(void);
void ngx_http_kochava_metrics_spool_bytes_add(ngx_uint_t index, off_t bytes);
void ngx_http_kochava_metrics_spool_bytes_set(ngx_uint_t index, off_t bytes);
off_t ngx_http_kochava_metrics_spool_bytes(ngx_uint_t index);


#endif /* _NGX_HTTP_KOCHAVA_METRICS_H_INCLUDED_ */
