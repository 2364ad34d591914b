
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The module's configuration and its per-request context: what every
 * file of the glue reads.  Each file declares what it offers in its own
 * header.
 */


#ifndef _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_spool.h"
#include "ngx_http_kochava_store.h"
#include "ngx_http_kochava_ratelimit.h"


#define NGX_HTTP_KOCHAVA_SYNC         0
#define NGX_HTTP_KOCHAVA_ASYNC        1

/* the longest write key taken from a header or a body */
#define NGX_HTTP_KOCHAVA_MAX_KEY      512


/* what a location is, by its directive: one role each */
typedef enum {
    NGX_HTTP_KOCHAVA_ROLE_NONE = 0,
    NGX_HTTP_KOCHAVA_ROLE_INGEST,       /* kochava_ingest */
    NGX_HTTP_KOCHAVA_ROLE_POSTBACK,     /* kochava_postback */
    NGX_HTTP_KOCHAVA_ROLE_STATUS        /* kochava_status */
} ngx_http_kochava_role_e;

/* the directive of each role, for messages */
#define NGX_HTTP_KOCHAVA_ROLE_DIRECTIVES                                      \
    { "", "kochava_ingest", "kochava_postback", "kochava_status" }


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
    ngx_str_t                     uri;            /* empty: none ("off") */
    ngx_str_t                     args;
    u_char                       *file;           /* of the directive; */
    ngx_uint_t                    line;           /* NULL: not set here */

    /* this worker's: nginx answered for it (an alert a second at most) */
    ngx_http_kochava_ratelimit_t  alerts;
} ngx_http_kochava_pass_t;


typedef struct {
    ngx_array_t                   spools;         /* of spool pointers */
    ngx_array_t                   roles;          /* of role_loc_t */
    ngx_array_t                   dedup_zones;    /* of ngx_shm_zone_t * */
    ngx_shm_zone_t               *metrics_zone;   /* NULL: module unused */
    ngx_uint_t                    worker_concurrency;  /* 0: off */
} ngx_http_kochava_main_conf_t;


typedef struct {
    ngx_uint_t                    role;           /* not inherited */
    ngx_http_complex_value_t     *app_id;
    ngx_http_complex_value_t     *settings_api_host;  /* NULL: request's */
    ngx_http_complex_value_t     *gdpr_applies;   /* NULL: not sent */
    ngx_str_t                     consent_ad_user_data;      /* categories */
    ngx_str_t                     consent_ad_personalization;
    ngx_flag_t                    consent;        /* kochava_consent seen */
    ngx_http_kochava_pass_t       pass[KOCHAVA_NDESTS];

    /* an "if" or "limit_except" in it has a content handler of its own */
    ngx_flag_t                    nested_handler; /* not inherited */

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

    /* debug builds: the Nth subrequest of each fan-out fails to start */
    ngx_uint_t                    debug_fail_subrequest;

    ngx_array_t                  *names;          /* of kochava_name_t */
    ngx_shm_zone_t               *dedup;          /* NULL: off */

    kochava_conf_t                core;           /* built when merged */
} ngx_http_kochava_loc_conf_t;


/*
 * A location with kochava_ingest or kochava_postback, with its server:
 * nginx -t finds where its passes lead (ngx_http_kochava_pass_check.h).
 */
typedef struct {
    ngx_http_kochava_loc_conf_t  *klcf;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_core_srv_conf_t     *cscf;
} ngx_http_kochava_role_loc_t;


/* the confirms of a request to send to the store (dedup.c) */
typedef struct ngx_http_kochava_dedup_flush_s  ngx_http_kochava_dedup_flush_t;

/* the fan-out engine's (ngx_http_kochava_fanout.h) */
typedef struct ngx_http_kochava_fanout_s  ngx_http_kochava_fanout_t;


/* per ingest or postback request (and per detached request) */
typedef struct {
    ngx_http_request_t           *request;
    kochava_call_e                call;

    ngx_str_t                     write_key;
    ngx_str_t                     app_id;
    unsigned                      app_id_checked:1;
    unsigned                      encoding:2;

    kochava_result_t              result;
    ngx_str_t                     error;          /* $kochava_error */

    ngx_http_kochava_fanout_t    *fanout;         /* NULL: none runs */
    ngx_http_kochava_journal_t    journal;        /* async: write-ahead */

    uint32_t                      dedup_owner;    /* its token; 0: none */

    /*
     * The outputs' client ids as the fleet store was asked about them, in
     * order: out i's are store_ids[store_first[i] .. store_first[i + 1]);
     * NULL when the store was not asked (ngx_http_kochava_admit.c).
     */
    ngx_http_kochava_store_id_t  *store_ids;
    uint32_t                     *store_first;
    ngx_http_kochava_dedup_flush_t  *store_flush; /* confirms to send */

    unsigned                      settings:1;     /* .../settings */
    unsigned                      dedup_confirmed:1;  /* all outs */
    unsigned                      reading_body:1; /* ingest body filter */
    unsigned                      body_lost:1;    /* it could not be kept */
} ngx_http_kochava_ctx_t;


extern ngx_module_t  ngx_http_kochava_module;


#endif /* _NGX_HTTP_KOCHAVA_MODULE_H_INCLUDED_ */
