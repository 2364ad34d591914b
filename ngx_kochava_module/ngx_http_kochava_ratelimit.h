
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * At most one error log line a second for an error that can happen once
 * per message or per request (a full spool, a failing disk, a broken
 * pass location): the lines in between are counted, and the next line
 * says how many there were.  One limiter per worker and per thing that
 * fails (a spool and its kind of error, a location); a zeroed one is
 * ready.  Metrics count every occurrence: this is for the log alone.
 */


#ifndef _NGX_HTTP_KOCHAVA_RATELIMIT_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_RATELIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_KOCHAVA_RATELIMIT_PERIOD  1000      /* ms */


typedef struct {
    ngx_msec_t                    last;           /* of the last line */
    ngx_uint_t                    suppressed;     /* not logged since */
    unsigned                      logged:1;       /* "last" is set */
} ngx_http_kochava_ratelimit_t;


/*
 * An occurrence: returns 1 when its line is to be logged now, with
 * *suppressed the lines not logged since the previous one (then reset),
 * or 0 (it is counted in rl).
 */
ngx_uint_t ngx_http_kochava_ratelimit(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t *suppressed);

/*
 * No occurrence (a timer): returns the lines not logged since the last
 * one when a line may say so now (then rl counts that line as logged),
 * else 0.
 */
ngx_uint_t ngx_http_kochava_ratelimit_flush(ngx_http_kochava_ratelimit_t *rl);

/*
 * ngx_log_error() through rl: the line is logged when rl lets it, with
 * " (N more since the last such line)" added when N were not.
 */
void ngx_http_kochava_ratelimit_log(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t level, ngx_log_t *log, ngx_err_t err, const char *fmt, ...);

/*
 * From a timer: when lines were not logged and a line may say so now
 * (ngx_http_kochava_ratelimit_flush()), logs "<fmt...>: N more \"what\"
 * since the last such line", what being the gist of the lines.
 */
void ngx_http_kochava_ratelimit_summary(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t level, ngx_log_t *log, const char *what, const char *fmt, ...);


#endif /* _NGX_HTTP_KOCHAVA_RATELIMIT_H_INCLUDED_ */
