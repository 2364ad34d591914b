
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The worker's slots for outbound requests: with kochava_worker_concurrency
 * N, at most N subrequests of all fan-outs (sync, async, postbacks) are in
 * flight in a worker.  A fan-out that finds no free slot waits in a FIFO
 * queue; a slot that frees goes to the fan-out at its head, which is
 * woken through the callback it registered, from a posted event.  A slot
 * handed over stays counted as taken, so a fan-out that arrives meanwhile
 * cannot take it first.  Nothing here knows what a fan-out is.
 *
 * Without the directive N is a quarter of worker_connections: every
 * request in flight holds an upstream connection, and the other three
 * quarters are the clients', the async fan-outs' own (fake) connections
 * and the upstream keepalive caches' (docs/decisions.md).  N is settled by
 * a core module of its own, whose init_conf runs once the whole file is
 * read: the events block may come after the http block, and a refusal
 * there fails "nginx -t" and a reload as a directive's would.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_slots.h"
#include "ngx_http_kochava_metrics.h"


static char *ngx_http_kochava_slots_init_conf(ngx_cycle_t *cycle,
    void *conf);
static void ngx_http_kochava_slot_wake(ngx_event_t *ev);
static void ngx_http_kochava_slots_cleanup(void *data);
static void ngx_http_kochava_slot_free(void);


static ngx_core_module_t  ngx_http_kochava_slots_module_ctx = {
    ngx_string("kochava_slots"),
    NULL,                                  /* create configuration */
    ngx_http_kochava_slots_init_conf       /* init configuration */
};


ngx_module_t  ngx_http_kochava_slots_module = {
    NGX_MODULE_V1,
    &ngx_http_kochava_slots_module_ctx,    /* module context */
    NULL,                                  /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* slots taken in this worker, handed over ones included */
static ngx_uint_t   ngx_http_kochava_slots_taken;
static ngx_queue_t  ngx_http_kochava_slots_queue;


/* the worker's bound, 0 when off */

ngx_uint_t
ngx_http_kochava_slots_n(void)
{
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_kochava_module);

    return kmcf->worker_concurrency;
}


/*
 * Prepares slots for the worker's cap, if there is one: its wake
 * event, and a cleanup of its request's pool that gives back its slots
 * however the request ends (a client request that is terminated does not
 * see its subrequests' ends).
 */

ngx_int_t
ngx_http_kochava_slots_init(ngx_http_request_t *r,
    ngx_http_kochava_slots_t *slots, ngx_http_kochava_slots_wake_pt wake,
    void *data)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kochava_module);

    ngx_http_kochava_assert(kmcf->worker_concurrency != NGX_CONF_UNSET_UINT,
                            r->connection->log,
                            "kochava_worker_concurrency unresolved");

    slots->capped = (kmcf->worker_concurrency != 0);

    if (!slots->capped) {
        return NGX_OK;
    }

    if (ngx_http_kochava_slots_queue.next == NULL) {
        ngx_queue_init(&ngx_http_kochava_slots_queue);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_kochava_slots_cleanup;
    cln->data = slots;

    slots->wake = wake;
    slots->data = data;
    slots->event.handler = ngx_http_kochava_slot_wake;
    slots->event.data = slots;
    slots->event.log = r->connection->log;

    return NGX_OK;
}


/*
 * Takes a slot for one outbound request.  Returns NGX_OK, or
 * NGX_AGAIN when the fan-out must wait (it is queued then, and woken when
 * a slot is handed to it).
 */

ngx_int_t
ngx_http_kochava_slot_take(ngx_http_kochava_slots_t *slots)
{
    ngx_http_kochava_main_conf_t  *kmcf;

    if (!slots->capped) {
        return NGX_OK;
    }

    if (slots->granted) {
        slots->granted--;
        slots->held++;
        ngx_http_kochava_metrics_slot_waited();
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_kochava_module);

    if (ngx_http_kochava_slots_taken < kmcf->worker_concurrency
        && ngx_queue_empty(&ngx_http_kochava_slots_queue))
    {
        ngx_http_kochava_slots_taken++;
        ngx_http_kochava_metrics_slots_taken(1);
        slots->held++;
        return NGX_OK;
    }

    if (!slots->queued) {
        ngx_queue_insert_tail(&ngx_http_kochava_slots_queue, &slots->link);
        slots->queued = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, slots->event.log, 0,
                       "kochava: fan-out waits for a worker slot, "
                       "%ui taken", ngx_http_kochava_slots_taken);
    }

    return NGX_AGAIN;
}


/* an outbound request is over: its slot goes to the next in line */

void
ngx_http_kochava_slot_release(ngx_http_kochava_slots_t *slots)
{
    if (!slots->capped || slots->held == 0) {
        return;
    }

    slots->held--;
    ngx_http_kochava_slot_free();
}


/*
 * slots' holder starts nothing more: slots handed to it and not used go
 * on, and it leaves the queue.
 */

void
ngx_http_kochava_slots_done(ngx_http_kochava_slots_t *slots)
{
    if (!slots->capped) {
        return;
    }

    if (slots->queued) {
        ngx_queue_remove(&slots->link);
        slots->queued = 0;
    }

    if (slots->event.posted) {
        ngx_delete_posted_event(&slots->event);
    }

    while (slots->granted) {
        slots->granted--;
        ngx_http_kochava_slot_free();
    }
}


/* slots taken by the worker, for the debug log */

ngx_uint_t
ngx_http_kochava_slots_taken_n(void)
{
    return ngx_http_kochava_slots_taken;
}


static void
ngx_http_kochava_slot_free(void)
{
    ngx_queue_t               *q;
    ngx_http_kochava_slots_t  *next;

    if (ngx_queue_empty(&ngx_http_kochava_slots_queue)) {
        ngx_http_kochava_slots_taken--;
        ngx_http_kochava_metrics_slots_taken(-1);
        return;
    }

    q = ngx_queue_head(&ngx_http_kochava_slots_queue);
    ngx_queue_remove(q);

    next = ngx_queue_data(q, ngx_http_kochava_slots_t, link);
    next->queued = 0;
    next->granted++;

    if (!next->event.posted) {
        ngx_post_event(&next->event, &ngx_posted_events);
    }
}


/*
 * The whole file is read, worker_connections with it.  Unset: a quarter
 * of them.  A bound of worker_connections or more cannot bind before the
 * worker runs out of connections (the listening sockets and the clients
 * take some): refused.  One above half of them binds, but a burst with as
 * many clients runs the worker out: a warning.
 */

static char *
ngx_http_kochava_slots_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_uint_t                     n, wc, dflt;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);

    if (kmcf == NULL) {
        return NGX_CONF_OK;              /* no http block */
    }

    n = cycle->connection_n;
    wc = kmcf->worker_concurrency;
    dflt = ngx_max(n / 4, 1);

    if (wc == NGX_CONF_UNSET_UINT) {
        kmcf->worker_concurrency = dflt;
        return NGX_CONF_OK;
    }

    if (wc <= n / 2) {
        return NGX_CONF_OK;
    }

    if (wc < n) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "\"kochava_worker_concurrency %ui\" is more than half "
                      "of \"worker_connections %ui\": each outbound request "
                      "holds a connection, and the clients' and the "
                      "keepalive caches' are left fewer; the default is a "
                      "quarter, %ui", wc, n, dflt);
        return NGX_CONF_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "\"kochava_worker_concurrency %ui\" is not below "
                  "\"worker_connections %ui\": each outbound request "
                  "holds a connection, so the worker runs out of them "
                  "first; lower it (without the directive it is a quarter "
                  "of worker_connections, %ui) or raise worker_connections",
                  wc, n, dflt);

    return NGX_CONF_ERROR;
}


/* a slot was handed to a waiting holder: it takes it */

static void
ngx_http_kochava_slot_wake(ngx_event_t *ev)
{
    ngx_http_kochava_slots_t  *slots;

    slots = ev->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kochava: fan-out woken with %ui worker slot(s)",
                   slots->granted);

    slots->wake(slots->data);
}


/* the request is freed: every slot it holds or was given goes on */

static void
ngx_http_kochava_slots_cleanup(void *data)
{
    ngx_http_kochava_slots_t *slots = data;

    ngx_http_kochava_slots_done(slots);

    while (slots->held) {
        slots->held--;
        ngx_http_kochava_slot_free();
    }
}


/* kochava_worker_concurrency number | off */

char *
ngx_http_kochava_worker_concurrency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kochava_main_conf_t *kmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (kmcf->worker_concurrency != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        kmcf->worker_concurrency = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kochava_worker_concurrency\" must be a number "
                           "greater than zero or \"off\", not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    kmcf->worker_concurrency = n;

    return NGX_CONF_OK;
}
