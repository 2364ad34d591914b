
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_FANOUT_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_FANOUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_slots.h"


/* how much of an upstream's answer is kept to judge it */
#define NGX_HTTP_KOCHAVA_ANSWER_SIZE  4096


/*
 * One message's outbound request:
 *
 *   PENDING --start--> STARTED --answer--> DONE | FAILED | SPOOLED
 *      \______________ (not forwarded, could not start) ____/
 *
 * DONE: delivered or refused for good; FAILED: failed retryably and is
 * nowhere; SPOOLED: failed retryably and is on disk (a failure record,
 * or its journal record stays).
 */
typedef enum {
    NGX_HTTP_KOCHAVA_MSG_PENDING = 0,
    NGX_HTTP_KOCHAVA_MSG_STARTED,
    NGX_HTTP_KOCHAVA_MSG_DONE,
    NGX_HTTP_KOCHAVA_MSG_FAILED,
    NGX_HTTP_KOCHAVA_MSG_SPOOLED
} ngx_http_kochava_msg_state_e;


/* the last outbound request is over (called from a posted request) */
typedef void (*ngx_http_kochava_fanout_done_pt)(ngx_http_kochava_fanout_t *f);


typedef struct {
    ngx_http_kochava_fanout_t      *fanout;
    kochava_out_t                  *out;
    ngx_http_post_subrequest_t      ps;
    ngx_http_kochava_msg_state_e    state;

    ngx_uint_t                      status;
    u_char                         *answer;
    size_t                          answer_len;
    kochava_outcome_e               outcome;
    size_t                          errors;       /* Braze's errors[] */
    ngx_msec_t                      start;        /* when it was sent */

    unsigned                        record:1;     /* a failure record */
    unsigned                        config:1;     /* nginx answered */
    unsigned                        complete:1;   /* the answer's end came */
    unsigned                        answered:1;   /* by the upstream */
} ngx_http_kochava_sr_t;


/*
 * A fan-out: nouts outbound requests, subrequests of request (whose
 * location's configuration says where they go), at most
 * kochava_concurrency at a time and within the worker's slots.  It knows
 * nothing of who waits for it: done(fanout) is called once, when every
 * message is DONE, FAILED or SPOOLED.
 */
struct ngx_http_kochava_fanout_s {
    ngx_http_request_t               *request;
    kochava_out_t                    *outs;
    ngx_uint_t                        nouts;
    ngx_str_t                         app_id;       /* de-duplication */

    ngx_http_kochava_fanout_done_pt   done;
    void                             *data;

    ngx_http_kochava_sr_t            *srs;
    ngx_uint_t                        next;         /* first PENDING */
    ngx_uint_t                        in_flight;    /* STARTED */
    ngx_uint_t                        finished;     /* past STARTED */
    ngx_uint_t                        outcomes[KOCHAVA_NOUTCOMES];
    ngx_uint_t                        spooled;      /* SPOOLED */

    ngx_http_kochava_slots_t          slots;

    unsigned                          on_disk:1;    /* journaled */
    /*
     * The journal is fsynced: a retryable failure stays in it rather than
     * being written again as a failure record (that record and its done
     * mark are not fsynced: a power cut could keep the mark alone).
     */
    unsigned                          durable:1;
    unsigned                          no_client:1;  /* request detached */
    unsigned                          posted:1;
    unsigned                          over:1;
};


ngx_int_t ngx_http_kochava_fanout_init(ngx_conf_t *cf);

/*
 * Starts f (request, outs, nouts, app_id, done, data and the flags set,
 * the rest zero).  Returns NGX_OK (done() comes later, even when nothing
 * could be started) or NGX_ERROR (no memory: nothing started).
 */
ngx_int_t ngx_http_kochava_fanout_start(ngx_http_kochava_fanout_t *f);

/*
 * Writes out, failed with error (its "last_error"), to the spool of r's
 * location as a failure record.  Returns 1 when it is on disk, 0 when not
 * (no spool, or the spool refused it).
 */
ngx_uint_t ngx_http_kochava_fanout_spool(ngx_http_request_t *r,
    kochava_out_t *out, const char *error);


#endif /* _NGX_HTTP_KOCHAVA_FANOUT_H_INCLUDED_ */
