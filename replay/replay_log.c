
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * What the replay says.  On a terminal: one progress line on stdout,
 * rewritten in place (at most ten times a second), with event lines
 * printed above it.  Otherwise (a timer, a pipe, a log file): one line per
 * event and per pass, each starting with an ISO-8601 UTC time.  Errors go
 * to stderr, time-stamped too.  No line ever carries the Braze key: it is
 * never handed to these functions.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replay.h"


static void replay_vline(FILE *out, const char *prefix, const char *fmt,
    va_list args);
static void replay_draw(void);


static int              replay_tty;
static FILE            *replay_out;         /* log lines: stdout */
static int              replay_drawn;       /* a progress line is shown */
static int64_t          replay_drawn_ms;
static replay_stats_t   replay_last;


/* to_stderr: stdout is for something else (--list) */
void
replay_log_init(int tty, int to_stderr)
{
    replay_tty = tty && !to_stderr;
    replay_out = to_stderr ? stderr : stdout;
}


void
replay_log(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    replay_vline(replay_out ? replay_out : stdout, "", fmt, args);
    va_end(args);
}


void
replay_error(const char *fmt, ...)
{
    va_list  args;

    fflush(stdout);

    va_start(args, fmt);
    replay_vline(stderr, "error: ", fmt, args);
    va_end(args);
}


/* the progress line, on a terminal only; force: draw it now */
void
replay_progress(const replay_stats_t *stats, int force)
{
    int64_t  now;

    if (!replay_tty) {
        return;
    }

    replay_last = *stats;
    now = replay_now_ms();

    if (!force && now - replay_drawn_ms < 100) {
        return;
    }

    replay_drawn_ms = now;
    replay_draw();
}


void
replay_progress_end(void)
{
    if (replay_tty && replay_drawn) {
        fputs("\n", stdout);
        fflush(stdout);
        replay_drawn = 0;
    }
}


static void
replay_draw(void)
{
    const replay_stats_t  *s;

    s = &replay_last;

    printf("\r\033[Kfiles %zu/%zu  records %zu  sent %zu  ok %zu  "
           "retry %zu  dead %zu  deferred %zu  torn %zu",
           s->files_done, s->files, s->records, s->sent, s->ok, s->retry,
           s->dead, s->deferred, s->torn);
    fflush(stdout);

    replay_drawn = 1;
}


static void
replay_vline(FILE *out, const char *prefix, const char *fmt, va_list args)
{
    char        when[32];
    time_t      now;
    struct tm   tm;

    if (replay_tty && replay_drawn) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    fprintf(out, "%s kochava-replay: %s", when, prefix);
    vfprintf(out, fmt, args);
    fputc('\n', out);
    fflush(out);

    if (replay_tty && replay_drawn) {
        replay_draw();
    }
}
