
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_SLOTS_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SLOTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_kochava_slots_s  ngx_http_kochava_slots_t;

/* a slot was handed to a waiting holder: it may take it now */
typedef void (*ngx_http_kochava_slots_wake_pt)(void *data);


/* what one fan-out holds of the worker's slots */
struct ngx_http_kochava_slots_s {
    ngx_queue_t                     link;         /* waiting for a slot */
    ngx_event_t                     event;        /* a slot was handed */
    ngx_uint_t                      held;         /* by running requests */
    ngx_uint_t                      granted;      /* handed, not used */
    ngx_http_kochava_slots_wake_pt  wake;
    void                           *data;
    unsigned                        capped:1;
    unsigned                        queued:1;
};


/*
 * settles kochava_worker_concurrency against worker_connections once the
 * whole configuration is read (unset: a quarter of them)
 */
extern ngx_module_t  ngx_http_kochava_slots_module;

/* the worker's bound (kochava_worker_concurrency), 0: off */
ngx_uint_t ngx_http_kochava_slots_n(void);

/*
 * Prepares slots for the worker's cap (none with
 * kochava_worker_concurrency off): a cleanup of r's pool gives back whatever
 * slots hold however the request ends.  wake(data) runs (from a posted
 * event) when a slot was handed over.
 */
ngx_int_t ngx_http_kochava_slots_init(ngx_http_request_t *r,
    ngx_http_kochava_slots_t *slots, ngx_http_kochava_slots_wake_pt wake,
    void *data);

/* NGX_OK: a slot is held; NGX_AGAIN: queued, wake() comes later */
ngx_int_t ngx_http_kochava_slot_take(ngx_http_kochava_slots_t *slots);

/* an outbound request is over: its slot goes to the next in line */
void ngx_http_kochava_slot_release(ngx_http_kochava_slots_t *slots);

/* nothing more will be taken: handed slots go on, the queue is left */
void ngx_http_kochava_slots_done(ngx_http_kochava_slots_t *slots);

/* slots taken in this worker */
ngx_uint_t ngx_http_kochava_slots_taken_n(void);

char *ngx_http_kochava_worker_concurrency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_KOCHAVA_SLOTS_H_INCLUDED_ */
