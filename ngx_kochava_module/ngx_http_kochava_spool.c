
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The disk spool and the write-ahead journal of async delivery.
 *
 * Each worker appends to a file of its own,
 * "<dir>/kochava-<host>-<pid>-<time>-<random>-<seq>.jsonl.part", by single
 * write(2)s on an O_APPEND descriptor, and holds an flock() on it as long
 * as it is open: the lock, not the pid in the name, says the file has a
 * writer (pids repeat in containers, and two nginx instances may share
 * the directory).  A file is created under a hidden name, locked, then
 * renamed into view, so no reader ever sees it unlocked while it lives.
 *
 * Three kinds of lines (delivery.md, "The spool"; docs/operations.md):
 *
 *   {"id":7,"dest":..,"uri":..,"body":..,"attempts":0,"first_failed":T}
 *       a journal record: an async request's outbound request, written
 *       (all of the request's in one write) before the client's 200;
 *   {"done":[7,8,9]}
 *       the journal records of a fan-out that were delivered, refused
 *       for good, or written again as failure records: one line, one
 *       write, when the fan-out is over;
 *   {"dest":..,"uri":..,"body":..,"attempts":1,"first_failed":T,
 *    "last_error":"503"}
 *       a failure record (sync, or async after a retryable failure).
 *
 * kochava-replay sends every record that is not marked done in its file.
 * The current file is closed when it reaches file_size, when it is older
 * than interval, on "nginx -s reopen" and when the worker exits; a file
 * whose journals are still running stays open (and locked) until they
 * end.  Closing removes a file in which everything is done, and renames
 * the others to ".jsonl" for the replay.  Each interval the first worker
 * closes the ".part" files nobody holds a lock on (a worker or an nginx
 * that died) and counts the directory's bytes for its gauge.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_spool.h"
#include "ngx_http_kochava_metrics.h"


/* the thread's side of an fdatasync() */
typedef struct {
    ngx_fd_t                      fd;
    ngx_err_t                     err;
} ngx_http_kochava_sync_ctx_t;


static ngx_int_t ngx_http_kochava_spool_open(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log);
static ngx_int_t ngx_http_kochava_spool_append(
    ngx_http_kochava_spool_file_t *file, u_char *data, size_t size,
    ngx_err_t *err, ngx_log_t *log);
static void ngx_http_kochava_spool_rotate(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log);
static void ngx_http_kochava_spool_close(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log);
static void ngx_http_kochava_spool_finish(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log);
static void ngx_http_kochava_spool_tick(ngx_event_t *ev);
static void ngx_http_kochava_spool_flush_errors(
    ngx_http_kochava_spool_t *spool, ngx_log_t *log);
static void ngx_http_kochava_spool_reopen(ngx_open_file_t *file,
    ngx_log_t *log);
static off_t ngx_http_kochava_spool_scan(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log);
static ngx_int_t ngx_http_kochava_spool_adopt(u_char *path, size_t len,
    ngx_uint_t hidden, ngx_log_t *log);
static void ngx_http_kochava_spool_let_go(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log);
#if (NGX_THREADS)
static ngx_int_t ngx_http_kochava_sync_start(
    ngx_http_kochava_spool_file_t *file, ngx_log_t *log);
static void ngx_http_kochava_sync_thread(void *data, ngx_log_t *log);
static void ngx_http_kochava_sync_done(ngx_event_t *ev);
static void ngx_http_kochava_sync_wake(ngx_http_kochava_journal_wait_t *w,
    ngx_int_t rc);
#endif


/* the line that says how many of a kind were not logged */
typedef struct {
    ngx_uint_t                    level;
    const char                   *text;
} ngx_http_kochava_spool_error_t;


static ngx_http_kochava_spool_error_t
    ngx_http_kochava_spool_errors[NGX_HTTP_KOCHAVA_SPOOL_NERRORS] =
{
    { NGX_LOG_ERR,   "is full, a request was dropped" },
    { NGX_LOG_ERR,   "is full, requests accepted without their journal" },
    { NGX_LOG_ERR,   "nothing can be spooled" },
    { NGX_LOG_ERR,   "write() failed, a request was dropped" },
    { NGX_LOG_ERR,   "write() failed, requests accepted without their "
                     "journal" },
    { NGX_LOG_ERR,   "write() failed, done marks lost" },
    { NGX_LOG_ALERT, "fdatasync() failed" },
    { NGX_LOG_ERR,   "the journal could not be synced to disk" }
};


static ngx_str_t  ngx_http_kochava_dest_names[] = {
    ngx_string("kochava"),
    ngx_string("kochava_identity"),
    ngx_string("braze")
};

/* this worker's part of the file names: host, pid and 64 random bits */
static u_char     ngx_http_kochava_spool_who[NGX_MAXHOSTNAMELEN + 64];
static size_t     ngx_http_kochava_spool_who_len;


ngx_int_t
ngx_http_kochava_spool_init_process(ngx_cycle_t *cycle)
{
    off_t                          bytes;
    u_char                        *p, *last, c;
    uint64_t                       rnd;
    ngx_uint_t                     i, n;
    ngx_http_kochava_spool_t      *spool, **spools;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);
    if (kmcf == NULL || kmcf->spools.nelts == 0) {
        return NGX_OK;
    }

    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
    {
        rnd = ((uint64_t) ngx_random() << 40) ^ ((uint64_t) ngx_random() << 20)
              ^ (uint64_t) ngx_random() ^ (uint64_t) ngx_current_msec;
    }

    /* the host name, with what is not [A-Za-z0-9.] made "_" */

    p = ngx_http_kochava_spool_who;
    last = p + NGX_MAXHOSTNAMELEN;

    for (n = 0; n < cycle->hostname.len && p < last; n++) {
        c = cycle->hostname.data[n];
        *p++ = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')
                 ? c : '_';
    }

    p = ngx_sprintf(p, "-%P-%016xL", ngx_pid, rnd);
    ngx_http_kochava_spool_who_len = p - ngx_http_kochava_spool_who;

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {
        spool = spools[i];

        spool->log = cycle->log;
        spool->file = NULL;
        ngx_queue_init(&spool->files);

        bytes = ngx_http_kochava_spool_scan(spool, cycle->log);
        ngx_http_kochava_metrics_spool_bytes_set(spool->index, bytes);

        spool->timer.handler = ngx_http_kochava_spool_tick;
        spool->timer.data = spool;
        spool->timer.log = cycle->log;
        spool->timer.cancelable = 1;

        ngx_add_timer(&spool->timer, spool->interval);
    }

    return NGX_OK;
}


void
ngx_http_kochava_spool_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_queue_t                     *q;
    ngx_http_kochava_spool_t       **spools;
    ngx_http_kochava_spool_file_t   *file;
    ngx_http_kochava_main_conf_t    *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);
    if (kmcf == NULL) {
        return;
    }

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {

        if (spools[i]->files.next == NULL) {
            continue;
        }

        ngx_http_kochava_spool_close(spools[i], cycle->log);

        /* journals still open at exit: their records stay for the replay */

        while (!ngx_queue_empty(&spools[i]->files)) {
            q = ngx_queue_head(&spools[i]->files);
            file = ngx_queue_data(q, ngx_http_kochava_spool_file_t, queue);

            file->live = 0;
            ngx_http_kochava_spool_finish(file, cycle->log);
        }
    }
}


ngx_int_t
ngx_http_kochava_spool_write(ngx_http_kochava_spool_t *spool,
    kochava_dest_e dest, ngx_str_t *uri, const char *body, size_t len,
    const char *error, ngx_log_t *log)
{
    size_t                          size, elen;
    u_char                         *line, *p;
    ngx_err_t                       err;
    ngx_int_t                       rc;
    ngx_http_kochava_spool_file_t  *file;

    elen = ngx_strlen(error);

    size = sizeof("{\"dest\":\"\",\"uri\":\"\",\"body\":,\"attempts\":1,"
                  "\"first_failed\":,\"last_error\":\"\"}\n") - 1
           + ngx_http_kochava_dest_names[dest].len
           + uri->len + ngx_escape_json(NULL, uri->data, uri->len)
           + len + NGX_TIME_T_LEN
           + elen + ngx_escape_json(NULL, (u_char *) error, elen);

    if (ngx_http_kochava_metrics_spool_bytes(spool->index) + (off_t) size
        > spool->max_size)
    {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_FULL], NGX_LOG_ERR, log, 0,
            "kochava: spool \"%V\" is full (max_size %O), a %s request was "
            "dropped", &spool->path, spool->max_size,
            ngx_http_kochava_dest_names[dest].data);
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    if (spool->file == NULL
        && ngx_http_kochava_spool_open(spool, log) != NGX_OK)
    {
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    line = ngx_alloc(size, log);
    if (line == NULL) {
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    p = ngx_sprintf(line, "{\"dest\":\"%V\",\"uri\":\"",
                    &ngx_http_kochava_dest_names[dest]);
    p = (u_char *) ngx_escape_json(p, uri->data, uri->len);
    p = ngx_cpymem(p, "\",\"body\":", sizeof("\",\"body\":") - 1);
    p = ngx_cpymem(p, body, len);
    p = ngx_sprintf(p, ",\"attempts\":1,\"first_failed\":%T,"
                    "\"last_error\":\"", ngx_time());
    p = (u_char *) ngx_escape_json(p, (u_char *) error, elen);
    p = ngx_cpymem(p, "\"}\n", 3);

    file = spool->file;

    rc = ngx_http_kochava_spool_append(file, line, p - line, &err, log);

    ngx_free(line);

    if (rc != NGX_OK) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_WRITE], NGX_LOG_ERR, log,
            err, "kochava: write() to spool \"%s\" %s, a %s request was "
            "dropped", file->name, err ? "failed" : "was incomplete",
            ngx_http_kochava_dest_names[dest].data);
        ngx_http_kochava_spool_rotate(file, log);
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    file->kept++;

    ngx_http_kochava_metrics_spooled(spool->index, p - line);

    if (file->written >= spool->file_size) {
        ngx_http_kochava_spool_close(spool, log);
    }

    return NGX_HTTP_KOCHAVA_SPOOLED;
}


ngx_int_t
ngx_http_kochava_journal_write(ngx_http_kochava_spool_t *spool,
    kochava_out_t *outs, ngx_uint_t n, ngx_str_t *uris,
    ngx_http_kochava_journal_t *j, ngx_log_t *log)
{
    size_t                          size;
    u_char                         *buf, *p;
    uint64_t                        id;
    ngx_err_t                       err;
    ngx_int_t                       rc;
    ngx_str_t                      *uri;
    ngx_uint_t                      i;
    kochava_out_t                  *out;
    ngx_http_kochava_spool_file_t  *file;

    j->file = NULL;
    j->n = n;

    size = 0;

    for (i = 0; i < n; i++) {
        out = &outs[i];
        uri = &uris[out->dest];

        size += sizeof("{\"id\":,\"dest\":\"\",\"uri\":\"\",\"body\":,"
                       "\"attempts\":0,\"first_failed\":}\n") - 1
                + NGX_INT64_LEN + ngx_http_kochava_dest_names[out->dest].len
                + uri->len + ngx_escape_json(NULL, uri->data, uri->len)
                + out->len + NGX_TIME_T_LEN;
    }

    if (ngx_http_kochava_metrics_spool_bytes(spool->index) + (off_t) size
        > spool->max_size)
    {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_FULL_JOURNAL], NGX_LOG_ERR,
            log, 0, "kochava: spool \"%V\" is full (max_size %O), %ui "
            "requests accepted without their journal", &spool->path,
            spool->max_size, n);
        ngx_http_kochava_metrics_unjournaled(n);
        return NGX_DECLINED;
    }

    if (spool->file == NULL
        && ngx_http_kochava_spool_open(spool, log) != NGX_OK)
    {
        ngx_http_kochava_metrics_unjournaled(n);
        return NGX_DECLINED;
    }

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        ngx_http_kochava_metrics_unjournaled(n);
        return NGX_DECLINED;
    }

    file = spool->file;
    id = file->next_id;
    p = buf;

    for (i = 0; i < n; i++) {
        out = &outs[i];
        uri = &uris[out->dest];

        p = ngx_sprintf(p, "{\"id\":%uL,\"dest\":\"%V\",\"uri\":\"",
                        id + i, &ngx_http_kochava_dest_names[out->dest]);
        p = (u_char *) ngx_escape_json(p, uri->data, uri->len);
        p = ngx_cpymem(p, "\",\"body\":", sizeof("\",\"body\":") - 1);
        p = ngx_cpymem(p, out->body, out->len);
        p = ngx_sprintf(p, ",\"attempts\":0,\"first_failed\":%T}\n",
                        ngx_time());
    }

    rc = ngx_http_kochava_spool_append(file, buf, p - buf, &err, log);

    ngx_free(buf);

    if (rc != NGX_OK) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_WRITE_JOURNAL], NGX_LOG_ERR,
            log, err, "kochava: write() to spool \"%s\" %s, %ui requests "
            "accepted without their journal", file->name,
            err ? "failed" : "was incomplete", n);
        ngx_http_kochava_spool_rotate(file, log);
        ngx_http_kochava_metrics_unjournaled(n);
        return NGX_DECLINED;
    }

    file->next_id += n;
    file->undone += n;
    file->live++;

    j->file = file;
    j->first = id;
    j->end = file->written;

    ngx_http_kochava_metrics_journaled(spool->index, n, p - buf);

    if (file->written >= spool->file_size) {
        ngx_http_kochava_spool_close(spool, log);
    }

    return NGX_OK;
}


void
ngx_http_kochava_journal_done(ngx_http_kochava_journal_t *j, u_char *done,
    ngx_log_t *log)
{
    u_char                         *buf, *p;
    ngx_err_t                       err;
    ngx_uint_t                      i, n;
    ngx_http_kochava_spool_file_t  *file;

    file = j->file;

    if (file == NULL) {
        return;
    }

    j->file = NULL;

    n = 0;

    if (done) {
        for (i = 0; i < j->n; i++) {
            n += (done[i] != 0);
        }
    }

    if (n) {
        buf = ngx_alloc(sizeof("{\"done\":[]}\n") + n * (NGX_INT64_LEN + 1),
                        log);

        if (buf == NULL) {
            /* not marked: the replay sends them again (at least once) */
            n = 0;

        } else {
            p = ngx_cpymem(buf, "{\"done\":[", sizeof("{\"done\":[") - 1);

            for (i = 0; i < j->n; i++) {
                if (done[i]) {
                    p = ngx_sprintf(p, "%uL,", j->first + i);
                }
            }

            p[-1] = ']';
            p = ngx_cpymem(p, "}\n", 2);

            if (ngx_http_kochava_spool_append(file, buf, p - buf, &err, log)
                == NGX_OK)
            {
                ngx_http_kochava_metrics_spool_bytes_add(file->spool->index,
                                                         p - buf);

            } else {
                /* not marked: the replay sends them again (at least once) */
                ngx_http_kochava_ratelimit_log(
                    &file->spool->errors[NGX_HTTP_KOCHAVA_SPOOL_WRITE_DONE],
                    NGX_LOG_ERR, log, err, "kochava: write() to spool \"%s\" "
                    "%s, %ui done marks lost (the replay sends them again)",
                    file->name, err ? "failed" : "was incomplete", n);
                ngx_http_kochava_spool_rotate(file, log);
                n = 0;
            }

            ngx_free(buf);
        }
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "kochava: journal %uL..%uL: %ui of %ui done",
                   j->first, j->first + j->n - 1, n, j->n);

    file->undone -= n;

    ngx_http_kochava_spool_let_go(file, log);
}


ngx_int_t
ngx_http_kochava_journal_sync(ngx_http_kochava_journal_t *j,
    ngx_http_kochava_journal_wait_t *w, ngx_log_t *log)
{
#if (NGX_THREADS)
    ngx_http_kochava_spool_file_t  *file;

    file = j->file;

    if (file == NULL) {
        return NGX_ERROR;
    }

    w->file = file;
    w->end = j->end;
    w->rc = NGX_OK;

    ngx_queue_insert_tail(&file->waiting, &w->queue);
    file->live++;

    if (!file->syncing && ngx_http_kochava_sync_start(file, log) != NGX_OK) {
        ngx_http_kochava_ratelimit_log(
            &file->spool->errors[NGX_HTTP_KOCHAVA_SPOOL_SYNC_START],
            NGX_LOG_ERR, log, 0, "kochava: the journal in spool \"%s\" "
            "could not be synced to disk", file->name);
        ngx_http_kochava_journal_unwait(w);
        return NGX_ERROR;
    }

    return NGX_OK;
#else
    return NGX_ERROR;
#endif
}


void
ngx_http_kochava_journal_unwait(ngx_http_kochava_journal_wait_t *w)
{
    ngx_http_kochava_spool_file_t  *file;

    file = w->file;

    if (file == NULL) {
        return;
    }

    w->file = NULL;
    ngx_queue_remove(&w->queue);

    ngx_http_kochava_spool_let_go(file, ngx_cycle->log);
}


/* a journal or a waiter is done with file: closed with the last one */

static void
ngx_http_kochava_spool_let_go(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log)
{
    ngx_http_kochava_assert(file->live > 0, log, "spool file not live");

    file->live--;

    if (!file->current && file->live == 0 && !file->syncing) {
        ngx_http_kochava_spool_finish(file, log);
    }
}


#if (NGX_THREADS)

/* one fdatasync() for everything written so far, in a thread */

static ngx_int_t
ngx_http_kochava_sync_start(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log)
{
    ngx_thread_task_t            *task;
    ngx_http_kochava_sync_ctx_t  *ctx;

    task = file->task;

    if (task == NULL) {
        task = ngx_calloc(sizeof(ngx_thread_task_t)
                          + sizeof(ngx_http_kochava_sync_ctx_t), log);
        if (task == NULL) {
            return NGX_ERROR;
        }

        task->ctx = &task[1];
        task->handler = ngx_http_kochava_sync_thread;
        task->event.handler = ngx_http_kochava_sync_done;
        task->event.data = file;
        task->event.log = file->spool->log;

        file->task = task;
    }

    ctx = task->ctx;
    ctx->fd = file->fd;
    ctx->err = 0;

    file->syncing_to = file->written;

    if (ngx_thread_task_post(file->spool->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    file->syncing = 1;

    return NGX_OK;
}


static void
ngx_http_kochava_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_kochava_sync_ctx_t *ctx = data;

    if (fdatasync(ctx->fd) == -1) {
        ctx->err = ngx_errno;
    }
}


/*
 * The fdatasync() is over: the requests it covers are answered, the ones
 * that came meanwhile get the next one.
 */

static void
ngx_http_kochava_sync_done(ngx_event_t *ev)
{
    ngx_int_t                         rc;
    ngx_queue_t                      *q, *next;
    ngx_thread_task_t                *task;
    ngx_http_kochava_sync_ctx_t      *ctx;
    ngx_http_kochava_spool_file_t    *file;
    ngx_http_kochava_journal_wait_t  *w;

    file = ev->data;
    task = file->task;
    ctx = task->ctx;

    file->syncing = 0;

    if (ctx->err) {
        ngx_http_kochava_ratelimit_log(
            &file->spool->errors[NGX_HTTP_KOCHAVA_SPOOL_SYNC], NGX_LOG_ALERT,
            ev->log, ctx->err, "kochava: fdatasync() of spool \"%s\" failed",
            file->name);
        rc = NGX_ERROR;

    } else {
        file->synced = file->syncing_to;
        rc = NGX_OK;
    }

    for (q = ngx_queue_head(&file->waiting);
         q != ngx_queue_sentinel(&file->waiting);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_http_kochava_journal_wait_t, queue);

        if (rc == NGX_OK && w->end > file->synced) {
            continue;
        }

        ngx_http_kochava_sync_wake(w, rc);
    }

    if (!ngx_queue_empty(&file->waiting)
        && ngx_http_kochava_sync_start(file, ev->log) != NGX_OK)
    {
        while (!ngx_queue_empty(&file->waiting)) {
            q = ngx_queue_head(&file->waiting);
            w = ngx_queue_data(q, ngx_http_kochava_journal_wait_t, queue);

            ngx_http_kochava_sync_wake(w, NGX_ERROR);
        }
    }

    if (!file->current && file->live == 0 && !file->syncing) {
        ngx_http_kochava_spool_finish(file, ev->log);
    }
}


/* w's wait is over: its request is answered from a posted event */

static void
ngx_http_kochava_sync_wake(ngx_http_kochava_journal_wait_t *w, ngx_int_t rc)
{
    w->rc = rc;

    ngx_queue_remove(&w->queue);
    w->file->live--;
    w->file = NULL;

    ngx_post_event(w->event, &ngx_posted_events);
}

#endif


static ngx_int_t
ngx_http_kochava_spool_open(ngx_http_kochava_spool_t *spool, ngx_log_t *log)
{
    u_char                         *p, hidden[NGX_MAX_PATH + 1];
    size_t                          len;
    ngx_fd_t                        fd;
    ngx_http_kochava_spool_file_t  *file;

    len = spool->path.len + sizeof("/.kochava--.jsonl.part")
          + ngx_http_kochava_spool_who_len + 2 * NGX_INT64_LEN;

    if (len > NGX_MAX_PATH) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_OPEN], NGX_LOG_ERR, log, 0,
            "kochava: spool path \"%V\" too long, nothing can be spooled",
            &spool->path);
        return NGX_ERROR;
    }

    file = ngx_calloc(sizeof(ngx_http_kochava_spool_file_t) + len, log);
    if (file == NULL) {
        return NGX_ERROR;
    }

    file->name = (u_char *) &file[1];

    p = ngx_sprintf(file->name, "%V/kochava-%*s-%T-%ui.jsonl.part",
                    &spool->path, ngx_http_kochava_spool_who_len,
                    ngx_http_kochava_spool_who, ngx_time(), spool->seq++);
    *p = '\0';
    file->len = p - file->name;

    /* created hidden and locked, then shown: never seen unlocked */

    ngx_sprintf(hidden, "%V/.%s.tmp%Z", &spool->path,
                file->name + spool->path.len + 1);

    /* close-on-exec: a child that kept it would keep the lock too */
    fd = ngx_open_file(hidden, NGX_FILE_APPEND,
                       NGX_FILE_CREATE_OR_OPEN | O_EXCL | O_CLOEXEC, 0640);

    if (fd == NGX_INVALID_FILE) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_OPEN], NGX_LOG_ERR, log,
            ngx_errno, "kochava: " ngx_open_file_n " \"%s\" failed, "
            "nothing can be spooled", hidden);
        ngx_free(file);
        return NGX_ERROR;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_OPEN], NGX_LOG_ERR, log,
            ngx_errno, "kochava: flock(\"%s\") failed, nothing can be "
            "spooled", hidden);
        goto failed;
    }

    if (ngx_rename_file(hidden, file->name) == NGX_FILE_ERROR) {
        ngx_http_kochava_ratelimit_log(
            &spool->errors[NGX_HTTP_KOCHAVA_SPOOL_OPEN], NGX_LOG_ERR, log,
            ngx_errno, "kochava: " ngx_rename_file_n " \"%s\" failed, "
            "nothing can be spooled", hidden);
        goto failed;
    }

    file->spool = spool;
    file->fd = fd;
    file->next_id = 1;
    file->current = 1;
    ngx_queue_init(&file->waiting);

    ngx_queue_insert_tail(&spool->files, &file->queue);

    spool->file = file;
    spool->opened = ngx_time();

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "kochava: spool file \"%s\" opened", file->name);

    return NGX_OK;

failed:

    (void) ngx_close_file(fd);
    (void) ngx_delete_file(hidden);
    ngx_free(file);

    return NGX_ERROR;
}


/*
 * One write(2) of whole lines; a short one is cut back, so a line is
 * whole or absent.  On failure *err is the write's errno (0: it was
 * short); the caller logs it and rotates the file.
 */

static ngx_int_t
ngx_http_kochava_spool_append(ngx_http_kochava_spool_file_t *file,
    u_char *data, size_t size, ngx_err_t *err, ngx_log_t *log)
{
    ssize_t  n;

    n = write(file->fd, data, size);

    if (n == (ssize_t) size) {
        file->written += size;
        return NGX_OK;
    }

    if (n == -1) {
        *err = ngx_errno;
        return NGX_ERROR;
    }

    *err = 0;

    /* a torn line left in the file: once per file at most, not limited */

    if (ftruncate(file->fd, file->written) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "kochava: ftruncate() of spool \"%s\" failed",
                      file->name);
    }

    return NGX_ERROR;
}


/* file refused a write: the next record starts a new file */

static void
ngx_http_kochava_spool_rotate(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log)
{
    if (file->current) {
        ngx_http_kochava_spool_close(file->spool, log);
    }
}


/* the current file takes no more records */

static void
ngx_http_kochava_spool_close(ngx_http_kochava_spool_t *spool, ngx_log_t *log)
{
    ngx_http_kochava_spool_file_t  *file;

    file = spool->file;

    if (file == NULL) {
        return;
    }

    spool->file = NULL;
    file->current = 0;

    if (file->live == 0 && !file->syncing) {
        ngx_http_kochava_spool_finish(file, log);
    }
}


/*
 * Nothing more goes into file: removed when all in it is done, else
 * handed to the replay as ".jsonl".  Renamed or removed while still
 * locked, then closed.
 */

static void
ngx_http_kochava_spool_finish(ngx_http_kochava_spool_file_t *file,
    ngx_log_t *log)
{
    u_char  done[NGX_MAX_PATH + 1];

    ngx_queue_remove(&file->queue);

    if (file->undone == 0 && file->kept == 0) {

        if (ngx_delete_file(file->name) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          ngx_delete_file_n " \"%s\" failed", file->name);

        } else {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                           "kochava: spool file \"%s\" all done, %O bytes "
                           "removed", file->name, file->written);

            ngx_http_kochava_metrics_spool_bytes_add(file->spool->index,
                                                     -file->written);
        }

    } else {
        ngx_memcpy(done, file->name, file->len - 5);
        done[file->len - 5] = '\0';

        if (ngx_rename_file(file->name, done) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_rename_file_n " \"%s\" to \"%s\" failed",
                          file->name, done);

        } else {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "kochava: spool file \"%s\" closed, %O bytes, "
                          "%ui records left", done, file->written,
                          file->undone + file->kept);
        }
    }

    if (ngx_close_file(file->fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", file->name);
    }

    if (file->task) {
        ngx_free(file->task);
    }

    ngx_free(file);
}


/*
 * Every interval: close a file that is old enough; the first worker
 * adopts orphans and refreshes the gauge from the directory (the others
 * add what they write).
 */

static void
ngx_http_kochava_spool_tick(ngx_event_t *ev)
{
    off_t                      bytes;
    ngx_http_kochava_spool_t  *spool;

    spool = ev->data;

    if (spool->file
        && (ngx_msec_t) (ngx_time() - spool->opened) * 1000
           >= spool->interval)
    {
        ngx_http_kochava_spool_close(spool, ev->log);
    }

    if (ngx_worker == 0) {
        bytes = ngx_http_kochava_spool_scan(spool, ev->log);
        ngx_http_kochava_metrics_spool_bytes_set(spool->index, bytes);
    }

    ngx_http_kochava_spool_flush_errors(spool, ev->log);

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* what is still written goes out at exit */
        return;
    }

    ngx_add_timer(ev, spool->interval);
}


/* the errors not logged since the last line of their kind, counted */

static void
ngx_http_kochava_spool_flush_errors(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log)
{
    ngx_uint_t                       i;
    ngx_http_kochava_spool_error_t  *e;

    for (i = 0; i < NGX_HTTP_KOCHAVA_SPOOL_NERRORS; i++) {
        e = &ngx_http_kochava_spool_errors[i];

        ngx_http_kochava_ratelimit_summary(&spool->errors[i], e->level, log,
                                           e->text, "kochava: spool \"%V\"",
                                           &spool->path);
    }
}


/* "nginx -s reopen", and the worker's exit */

static void
ngx_http_kochava_spool_reopen(ngx_open_file_t *file, ngx_log_t *log)
{
    ngx_http_kochava_spool_t  *spool;

    spool = file->data;

    if (spool->files.next) {
        ngx_http_kochava_spool_close(spool, log);
    }
}


/*
 * The bytes the spool holds on disk, for the gauge and max_size; the
 * ".part" files (and hidden ones being created) that nobody holds a lock
 * on are closed on the way.
 */

static off_t
ngx_http_kochava_spool_scan(ngx_http_kochava_spool_t *spool, ngx_log_t *log)
{
    DIR            *dir;
    off_t           total;
    size_t          len;
    u_char          path[NGX_MAX_PATH + 1];
    ngx_uint_t      hidden;
    struct stat     st;
    struct dirent  *de;

    dir = opendir((char *) spool->path.data);
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "kochava: opendir(\"%V\") failed", &spool->path);
        return 0;
    }

    total = 0;

    while ((de = readdir(dir)) != NULL) {
        len = ngx_strlen(de->d_name);

        if (spool->path.len + 1 + len > NGX_MAX_PATH) {
            continue;
        }

        hidden = (de->d_name[0] == '.');

        if (hidden
            && (len < sizeof(".kochava-.tmp") - 1
                || ngx_strncmp(de->d_name, ".kochava-", 9) != 0
                || ngx_strcmp(de->d_name + len - 4, ".tmp") != 0))
        {
            continue;
        }

        ngx_sprintf(path, "%V/%s%Z", &spool->path, de->d_name);

        if (stat((char *) path, &st) == -1 || !S_ISREG(st.st_mode)) {
            continue;
        }

        if ((hidden
             || (len > 11 && ngx_strcmp(de->d_name + len - 11,
                                        ".jsonl.part") == 0))
            && ngx_http_kochava_spool_adopt(path, spool->path.len + 1 + len,
                                            hidden, log)
               == NGX_OK
            && hidden)
        {
            continue;
        }

        total += st.st_size;
    }

    (void) closedir(dir);

    return total;
}


/*
 * A ".part" file nobody holds a lock on is renamed ".jsonl" (the replay
 * sends what is not marked done in it), under the lock; a hidden one is
 * removed (it never took a record).  Returns NGX_OK when it was.
 */

static ngx_int_t
ngx_http_kochava_spool_adopt(u_char *path, size_t len, ngx_uint_t hidden,
    ngx_log_t *log)
{
    u_char     done[NGX_MAX_PATH + 1];
    ngx_fd_t   fd;
    ngx_int_t  rc;

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN | O_CLOEXEC, 0);
    if (fd == NGX_INVALID_FILE) {
        /* closed meanwhile */
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        /* its writer lives */
        goto done;
    }

    if (hidden) {
        if (ngx_delete_file(path) != NGX_FILE_ERROR) {
            rc = NGX_OK;
        }

        goto done;
    }

    ngx_memcpy(done, path, len - 5);
    done[len - 5] = '\0';

    if (ngx_rename_file(path, done) == NGX_FILE_ERROR) {
        /* another worker took it first */
        goto done;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "kochava: spool file \"%s\" of a writer that is gone "
                  "closed", done);

    rc = NGX_OK;

done:

    (void) ngx_close_file(fd);

    return rc;
}


/*
 * kochava_spool <dir> [max_size=] [file_size=] [interval=] [fsync=off|on]
 *     | off
 */

char *
ngx_http_kochava_spool_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    ssize_t                        size;
    ngx_str_t                     *value, s, path, marker;
    ngx_int_t                      interval;
    ngx_uint_t                     i;
    ngx_path_t                    *dir;
    ngx_open_file_t               *file;
    ngx_http_kochava_spool_t      *spool, **spools;
    ngx_http_kochava_main_conf_t  *kmcf;

    if (klcf->spool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        klcf->spool = NULL;
        return NGX_CONF_OK;
    }

    path = value[1];

    while (path.len > 1 && path.data[path.len - 1] == '/') {
        path.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    spool = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_spool_t));
    if (spool == NULL) {
        return NGX_CONF_ERROR;
    }

    spool->path = path;
    spool->max_size = 1024 * 1024 * 1024;
    spool->file_size = 16 * 1024 * 1024;
    spool->interval = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            spool->max_size = ngx_parse_offset(&s);
            if (spool->max_size <= 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "file_size=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            size = ngx_parse_size(&s);
            if (size <= 0) {
                goto invalid;
            }

            spool->file_size = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            interval = ngx_parse_time(&s, 0);
            if (interval == NGX_ERROR || interval == 0) {
                goto invalid;
            }

            spool->interval = (ngx_msec_t) interval;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=on") == 0) {
#if (NGX_THREADS)
            spool->fsync = 1;
            continue;
#else
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"fsync=on\" needs nginx built with "
                               "threads (--with-threads)");
            return NGX_CONF_ERROR;
#endif
        }

        if (ngx_strcmp(value[i].data, "fsync=off") == 0) {
            spool->fsync = 0;
            continue;
        }

        goto invalid;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    /* one spool per directory, however many locations name it */

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {
        if (spools[i]->path.len != path.len
            || ngx_strncmp(spools[i]->path.data, path.data, path.len) != 0)
        {
            continue;
        }

        if (spools[i]->max_size != spool->max_size
            || spools[i]->file_size != spool->file_size
            || spools[i]->interval != spool->interval
            || spools[i]->fsync != spool->fsync)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "spool \"%V\" is already configured with "
                               "other parameters", &path);
            return NGX_CONF_ERROR;
        }

        klcf->spool = spools[i];
        return NGX_CONF_OK;
    }

    if (kmcf->spools.nelts == NGX_HTTP_KOCHAVA_MAX_SPOOLS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d spool directories: locations "
                           "may share one", NGX_HTTP_KOCHAVA_MAX_SPOOLS);
        return NGX_CONF_ERROR;
    }

    spool->index = kmcf->spools.nelts;

#if (NGX_THREADS)
    if (spool->fsync) {
        /* nginx's "default" pool, or the one "thread_pool default" sets */
        spool->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (spool->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }
#endif

    spools = ngx_array_push(&kmcf->spools);
    if (spools == NULL) {
        return NGX_CONF_ERROR;
    }

    *spools = spool;
    klcf->spool = spool;

    /* nginx creates the directory at start, owned by the workers' user */

    dir = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (dir == NULL) {
        return NGX_CONF_ERROR;
    }

    dir->name = path;
    dir->conf_file = cf->conf_file->file.name.data;
    dir->line = cf->conf_file->line;

    if (ngx_add_path(cf, &dir) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * "nginx -s reopen" reopens the files of the cycle and calls their
     * flush handler first: an empty marker file in the directory gives
     * the spool that call.
     */

    marker.len = path.len + sizeof("/.kochava-reopen") - 1;
    marker.data = ngx_pnalloc(cf->pool, marker.len + 1);
    if (marker.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(marker.data, "%V/.kochava-reopen%Z", &path);

    file = ngx_conf_open_file(cf->cycle, &marker);
    if (file == NULL) {
        return NGX_CONF_ERROR;
    }

    file->flush = ngx_http_kochava_spool_reopen;
    file->data = spool;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
