
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Error log lines at most once a second, with a count of the others
 * (ngx_http_kochava_ratelimit.h).  ngx_current_msec is nginx's monotonic
 * clock, so a clock set back does not silence a limiter.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_kochava_ratelimit.h"


ngx_uint_t
ngx_http_kochava_ratelimit(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t *suppressed)
{
    if (rl->logged
        && ngx_current_msec - rl->last < NGX_HTTP_KOCHAVA_RATELIMIT_PERIOD)
    {
        rl->suppressed++;
        return 0;
    }

    *suppressed = rl->suppressed;

    rl->suppressed = 0;
    rl->last = ngx_current_msec;
    rl->logged = 1;

    return 1;
}


ngx_uint_t
ngx_http_kochava_ratelimit_flush(ngx_http_kochava_ratelimit_t *rl)
{
    ngx_uint_t  n;

    if (rl->suppressed == 0
        || ngx_current_msec - rl->last < NGX_HTTP_KOCHAVA_RATELIMIT_PERIOD)
    {
        return 0;
    }

    n = rl->suppressed;

    rl->suppressed = 0;
    rl->last = ngx_current_msec;

    return n;
}


void
ngx_http_kochava_ratelimit_log(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t level, ngx_log_t *log, ngx_err_t err, const char *fmt, ...)
{
    u_char      *p, *last, line[NGX_MAX_ERROR_STR];
    va_list      args;
    ngx_uint_t   suppressed;

    /* a level the log does not take is no line, logged or suppressed */

    if (log->log_level < level) {
        return;
    }

    if (!ngx_http_kochava_ratelimit(rl, &suppressed)) {
        return;
    }

    last = line + sizeof(line);

    va_start(args, fmt);
    p = ngx_vslprintf(line, last, fmt, args);
    va_end(args);

    if (suppressed) {
        p = ngx_slprintf(p, last, " (%ui more since the last such line)",
                         suppressed);
    }

    ngx_log_error(level, log, err, "%*s", (size_t) (p - line), line);
}


void
ngx_http_kochava_ratelimit_summary(ngx_http_kochava_ratelimit_t *rl,
    ngx_uint_t level, ngx_log_t *log, const char *what, const char *fmt, ...)
{
    u_char      *p, *last, line[NGX_MAX_ERROR_STR];
    va_list      args;
    ngx_uint_t   n;

    if (log->log_level < level) {
        return;
    }

    n = ngx_http_kochava_ratelimit_flush(rl);

    if (n == 0) {
        return;
    }

    last = line + sizeof(line);

    va_start(args, fmt);
    p = ngx_vslprintf(line, last, fmt, args);
    va_end(args);

    p = ngx_slprintf(p, last, ": %ui more \"%s\" since the last such line",
                     n, what);

    ngx_log_error(level, log, 0, "%*s", (size_t) (p - line), line);
}
