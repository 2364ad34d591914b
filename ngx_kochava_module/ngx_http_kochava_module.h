
/*
 * Copyright (C) ngx_kochava_module authors
 */


#ifndef _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_spool.h"


#define NGX_HTTP_KOCHAVA_SYNC         0
#define NGX_HTTP_KOCHAVA_ASYNC        1

/* the longest write key taken from a header or a body */
#define NGX_HTTP_KOCHAVA_MAX_KEY      512

/* how much of an upstream's answer is kept to judge it */
#define NGX_HTTP_KOCHAVA_ANSWER_SIZE  4096


/*
 * An invariant of the delivery layer, checked in debug builds: broken, it
 * is logged at "alert" (tests fail on alerts) with where it broke.
 */
#if (NGX_DEBUG)
#define ngx_http_kochava_assert(cond, log, what)                              \
    if (!(cond)) {                                                            \
        ngx_log_error(NGX_LOG_ALERT, log, 0,                                  \
                      "kochava: invariant broken: %s (%s:%d)", what,          \
                      __FILE__, __LINE__);                                    \
        ngx_debug_point();                                                    \
    }
#else
#define ngx_http_kochava_assert(cond, log, what)
#endif


typedef enum {
    NGX_HTTP_KOCHAVA_IDENTITY = 0,
    NGX_HTTP_KOCHAVA_GZIP,
    NGX_HTTP_KOCHAVA_DEFLATE,
    NGX_HTTP_KOCHAVA_UNSUPPORTED
} ngx_http_kochava_encoding_e;


/* an internal location that outbound requests of one kind go to */
typedef struct {
    ngx_str_t                     uri;
    ngx_str_t                     args;
} ngx_http_kochava_pass_t;


typedef struct {
    ngx_array_t                   spools;         /* of spool pointers */
    ngx_array_t                   dedup_zones;    /* of ngx_shm_zone_t * */
    ngx_shm_zone_t               *metrics_zone;   /* NULL: module unused */
    ngx_uint_t                    worker_concurrency;  /* 0: off */
} ngx_http_kochava_main_conf_t;


typedef struct {
    ngx_http_complex_value_t     *app_id;
    ngx_http_kochava_pass_t       pass[KOCHAVA_NDESTS];
    ngx_str_t                     pass_conf[KOCHAVA_NDESTS];

    ngx_uint_t                    postback;       /* unset: none */
    ngx_uint_t                    delivery;
    size_t                        max_body_size;
    size_t                        max_message_size;
    ngx_uint_t                    max_batch;
    ngx_uint_t                    max_depth;
    ngx_uint_t                    concurrency;
    time_t                        retry_after;
    ngx_flag_t                    identify_traits;
    ngx_flag_t                    cors;
    size_t                        async_backlog;

    ngx_http_kochava_spool_t     *spool;          /* NULL: off */

    ngx_array_t                  *names;          /* of kochava_name_t */
    ngx_shm_zone_t               *dedup;          /* NULL: off */

    kochava_conf_t                core;           /* built when merged */
} ngx_http_kochava_loc_conf_t;


typedef struct ngx_http_kochava_ctx_s  ngx_http_kochava_ctx_t;


/* one outbound request: a subrequest to a pass location */
typedef struct {
    ngx_http_kochava_ctx_t       *ctx;
    kochava_out_t                *out;
    ngx_http_post_subrequest_t    ps;

    ngx_uint_t                    status;
    u_char                       *answer;
    size_t                        answer_len;
    kochava_outcome_e             outcome;
    size_t                        errors;         /* Braze's errors[] */
    ngx_msec_t                    start;          /* when it was sent */

    unsigned                      done:1;
    unsigned                      spooled:1;      /* a failure record */
    unsigned                      complete:1;     /* the answer's end came */
    unsigned                      answered:1;     /* by the upstream */
} ngx_http_kochava_sr_t;


/* per client request */
struct ngx_http_kochava_ctx_s {
    ngx_http_request_t           *request;
    kochava_call_e                call;

    ngx_str_t                     write_key;
    ngx_str_t                     app_id;
    unsigned                      app_id_checked:1;
    unsigned                      encoding:2;

    kochava_result_t              result;
    ngx_str_t                     error;          /* $kochava_error */

    ngx_http_kochava_sr_t        *srs;
    ngx_uint_t                    next;           /* next output to send */
    ngx_uint_t                    in_flight;
    ngx_uint_t                    finished;
    ngx_uint_t                    outcomes[KOCHAVA_NOUTCOMES];
    ngx_uint_t                    spooled;        /* failed, on disk */

    ngx_http_kochava_journal_t    journal;        /* async: write-ahead */

    /* kochava_worker_concurrency (ngx_http_kochava_slots.c) */
    ngx_queue_t                   slots_link;     /* waiting for a slot */
    ngx_event_t                   slot_event;     /* a slot was handed */
    ngx_uint_t                    slots_held;     /* by running requests */
    ngx_uint_t                    slots_granted;  /* handed, not used */
    unsigned                      slots_capped:1;
    unsigned                      slots_queued:1;

    unsigned                      posted:1;
    unsigned                      responded:1;
    unsigned                      detached:1;     /* async fan-out */
};


extern ngx_module_t  ngx_http_kochava_module;


ngx_int_t ngx_http_kochava_ingest_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_kochava_postback_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_kochava_request_body(ngx_http_request_t *r,
    ngx_str_t *body);

ngx_str_t *ngx_http_kochava_log_text(ngx_http_request_t *r,
    const char *text);
void ngx_http_kochava_allocator(ngx_http_request_t *r,
    kochava_allocator_t *a);
ngx_int_t ngx_http_kochava_send_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *body, size_t len);
ngx_int_t ngx_http_kochava_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);

ngx_int_t ngx_http_kochava_deliver(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
ngx_int_t ngx_http_kochava_fanout_start(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
ngx_int_t ngx_http_kochava_fanout_init(ngx_conf_t *cf);
void ngx_http_kochava_fanout_step(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
ngx_uint_t ngx_http_kochava_spool_out(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx, kochava_out_t *out, const char *error);

ngx_int_t ngx_http_kochava_slots_init(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
ngx_int_t ngx_http_kochava_slot_take(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
void ngx_http_kochava_slot_release(ngx_http_kochava_ctx_t *ctx);
void ngx_http_kochava_slots_done(ngx_http_kochava_ctx_t *ctx);
ngx_uint_t ngx_http_kochava_slots_taken_n(void);
char *ngx_http_kochava_worker_concurrency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_kochava_async_start(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
void ngx_http_kochava_async_finish(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx);
ngx_int_t ngx_http_kochava_copy_str(ngx_pool_t *pool, ngx_str_t *to,
    ngx_str_t *from);

ngx_int_t ngx_http_kochava_add_variables(ngx_conf_t *cf);


#include "ngx_http_kochava_metrics.h"


#endif /* _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_ */
