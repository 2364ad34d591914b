
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The metrics zone: one structure of ngx_atomic_t counters in shared
 * memory, created when a location uses the module, kept across reloads,
 * added to without a lock (as stub_status does).  Each worker finds it in
 * its own cycle when it starts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_metrics.h"


static ngx_int_t ngx_http_kochava_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_kochava_metrics_log(ngx_http_request_t *r);


ngx_http_kochava_metrics_t  *ngx_http_kochava_metrics;


/* the zone's tag: a name of its own, so no dedup zone can be taken for it */
static ngx_uint_t  ngx_http_kochava_metrics_tag;

static ngx_str_t   ngx_http_kochava_metrics_name =
    ngx_string("kochava_metrics");

static ngx_msec_t  ngx_http_kochava_buckets[] = { NGX_HTTP_KOCHAVA_BUCKETS };
static ngx_uint_t  ngx_http_kochava_statuses[] = { NGX_HTTP_KOCHAVA_STATUSES };


/* from the directives that make a location use the module */

ngx_int_t
ngx_http_kochava_metrics_add(ngx_conf_t *cf)
{
    ngx_shm_zone_t                *shm_zone;
    ngx_http_kochava_main_conf_t  *kmcf;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_kochava_metrics_name,
                                     8 * ngx_pagesize,
                                     &ngx_http_kochava_metrics_tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_kochava_metrics_init_zone;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);
    kmcf->metrics_zone = shm_zone;

    return NGX_OK;
}


/*
 * data is the old cycle's structure on a reload (the same segment is
 * kept when name, size and tag are the same): the counters go on.
 */

static ngx_int_t
ngx_http_kochava_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_kochava_metrics_t *om = data;

    ngx_slab_pool_t             *shpool;
    ngx_http_kochava_metrics_t  *m;

    if (om && om->size == sizeof(ngx_http_kochava_metrics_t)) {
        shm_zone->data = om;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists && shpool->data) {
        m = shpool->data;

        if (m->size == sizeof(ngx_http_kochava_metrics_t)) {
            shm_zone->data = m;
            return NGX_OK;
        }
    }

    /* new, or left by a module whose structure differs: start anew */

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_kochava_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->size = sizeof(ngx_http_kochava_metrics_t);

    shpool->data = m;
    shm_zone->data = m;

    return NGX_OK;
}


/* the zone of this worker's cycle, when the configuration has one */

ngx_int_t
ngx_http_kochava_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);

    ngx_http_kochava_metrics = (kmcf && kmcf->metrics_zone)
                               ? kmcf->metrics_zone->data : NULL;

    return NGX_OK;
}


/* the client answers of kochava locations, counted at the log phase */

ngx_int_t
ngx_http_kochava_metrics_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kochava_metrics_log;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                    i, status;
    ngx_http_kochava_loc_conf_t  *klcf;

    if (ngx_http_kochava_metrics == NULL || r != r->main) {
        return NGX_OK;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->role != NGX_HTTP_KOCHAVA_ROLE_INGEST
        && klcf->role != NGX_HTTP_KOCHAVA_ROLE_POSTBACK)
    {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; i < NGX_HTTP_KOCHAVA_NSTATUSES; i++) {
        if (ngx_http_kochava_statuses[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_kochava_metrics->requests[i], 1);

    return NGX_OK;
}


void
ngx_http_kochava_metrics_result(kochava_result_t *res)
{
    ngx_uint_t                   i;
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < KOCHAVA_NTYPES; i++) {
        if (res->received[i]) {
            (void) ngx_atomic_fetch_add(&m->received[i], res->received[i]);
        }
    }

    for (i = 0; i < res->rejected; i++) {
        if ((ngx_uint_t) res->rejects[i].reason < KOCHAVA_NREASONS) {
            (void) ngx_atomic_fetch_add(&m->rejected[res->rejects[i].reason],
                                        1);
        }
    }

    if (res->accepted) {
        (void) ngx_atomic_fetch_add(&m->accepted, res->accepted);
    }

    if (res->skipped) {
        (void) ngx_atomic_fetch_add(&m->skipped, res->skipped);
    }

    if (res->deduplicated_batch) {
        (void) ngx_atomic_fetch_add(
                   &m->deduplicated[NGX_HTTP_KOCHAVA_DEDUP_BATCH],
                   res->deduplicated_batch);
    }

    if (res->deduplicated > res->deduplicated_batch) {
        (void) ngx_atomic_fetch_add(
                   &m->deduplicated[NGX_HTTP_KOCHAVA_DEDUP_LOCAL],
                   res->deduplicated - res->deduplicated_batch);
    }

    if (res->braze_attributed) {
        (void) ngx_atomic_fetch_add(&m->braze_attributed,
                                    res->braze_attributed);
    }

    if (res->braze_organic) {
        (void) ngx_atomic_fetch_add(&m->braze_organic, res->braze_organic);
    }
}


void
ngx_http_kochava_metrics_upstream(kochava_dest_e dest,
    kochava_outcome_e outcome, ngx_msec_t duration)
{
    ngx_uint_t                   i;
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL
        || (ngx_uint_t) dest >= KOCHAVA_NDESTS
        || (ngx_uint_t) outcome >= KOCHAVA_NOUTCOMES)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->upstream[dest][outcome], 1);

    for (i = 0; i < NGX_HTTP_KOCHAVA_NBUCKETS; i++) {
        if (duration <= ngx_http_kochava_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->duration[dest][i], 1);
    (void) ngx_atomic_fetch_add(&m->duration_ms[dest], duration);
}


void
ngx_http_kochava_metrics_deduplicated(ngx_http_kochava_dedup_where_e where,
    ngx_uint_t n)
{
    if (ngx_http_kochava_metrics && n) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_kochava_metrics->deduplicated[where], n);
    }
}


void
ngx_http_kochava_metrics_config_error(kochava_dest_e dest)
{
    if (ngx_http_kochava_metrics && (ngx_uint_t) dest < KOCHAVA_NDESTS) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_kochava_metrics->config_errors[dest], 1);
    }
}


void
ngx_http_kochava_metrics_dedup_evicted(ngx_uint_t n)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_kochava_metrics->dedup_evicted,
                                    n);
    }
}


void
ngx_http_kochava_metrics_slot_waited(void)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_kochava_metrics->slot_waits, 1);
    }
}


void
ngx_http_kochava_metrics_gauge(size_t offset, ngx_int_t n)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add((ngx_atomic_t *)
                            ((u_char *) ngx_http_kochava_metrics + offset), n);
    }
}


void
ngx_http_kochava_metrics_spooled(ngx_uint_t index, size_t bytes)
{
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->spool_records, 1);
    (void) ngx_atomic_fetch_add(&m->spool_bytes[index], bytes);
}


void
ngx_http_kochava_metrics_journaled(ngx_uint_t index, ngx_uint_t n,
    size_t bytes)
{
    ngx_http_kochava_metrics_t  *m;

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->journal_records, n);
    (void) ngx_atomic_fetch_add(&m->spool_bytes[index], bytes);
}


void
ngx_http_kochava_metrics_unjournaled(ngx_uint_t n)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_kochava_metrics->unjournaled, n);
    }
}


void
ngx_http_kochava_metrics_spool_dropped(void)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_kochava_metrics->spool_dropped,
                                    1);
    }
}


void
ngx_http_kochava_metrics_spool_bytes_add(ngx_uint_t index, off_t bytes)
{
    if (ngx_http_kochava_metrics) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_kochava_metrics->spool_bytes[index],
                   (ngx_atomic_int_t) bytes);
    }
}


/* a word-sized aligned store is atomic: the last scan wins */

void
ngx_http_kochava_metrics_spool_bytes_set(ngx_uint_t index, off_t bytes)
{
    if (ngx_http_kochava_metrics) {
        ngx_http_kochava_metrics->spool_bytes[index] =
            (ngx_atomic_uint_t) (bytes > 0 ? bytes : 0);
    }
}


/* a gauge taken down past 0 (a file removed before a scan) reads as 0 */

off_t
ngx_http_kochava_metrics_spool_bytes(ngx_uint_t index)
{
    ngx_atomic_int_t  n;

    if (ngx_http_kochava_metrics == NULL) {
        return 0;
    }

    n = (ngx_atomic_int_t) ngx_http_kochava_metrics->spool_bytes[index];

    return n > 0 ? (off_t) n : 0;
}
