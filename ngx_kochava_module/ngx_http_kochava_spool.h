
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The spool and its write-ahead journal: the bottom of the delivery
 * layer (it knows nothing of requests, fan-outs or locations).
 */


#ifndef _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"
#include "ngx_http_kochava_ratelimit.h"


typedef struct ngx_http_kochava_spool_s  ngx_http_kochava_spool_t;


/*
 * The spool's errors that can come once per record or request (a full
 * spool, a failing disk): each kind logged at most once a second per
 * worker, with a count of the others (the metrics count every one).
 */
typedef enum {
    NGX_HTTP_KOCHAVA_SPOOL_FULL = 0,         /* max_size: record dropped */
    NGX_HTTP_KOCHAVA_SPOOL_FULL_JOURNAL,     /* max_size: no journal */
    NGX_HTTP_KOCHAVA_SPOOL_OPEN,             /* no file could be made */
    NGX_HTTP_KOCHAVA_SPOOL_WRITE,            /* write(): record dropped */
    NGX_HTTP_KOCHAVA_SPOOL_WRITE_JOURNAL,    /* write(): no journal */
    NGX_HTTP_KOCHAVA_SPOOL_WRITE_DONE,       /* write(): done marks lost */
    NGX_HTTP_KOCHAVA_SPOOL_SYNC,             /* fdatasync() failed */
    NGX_HTTP_KOCHAVA_SPOOL_SYNC_START,       /* no fdatasync() started */
    NGX_HTTP_KOCHAVA_SPOOL_NERRORS
} ngx_http_kochava_spool_error_e;


/*
 * A file a worker writes: "<dir>/<name>.jsonl.part", locked (flock) by
 * the worker as long as it is open.  The current file takes new records;
 * a file rotated out stays open (and locked) until the journals that
 * will mark records in it done are over.
 */
typedef struct {
    ngx_http_kochava_spool_t     *spool;
    ngx_queue_t                   queue;          /* spool->files */
    ngx_fd_t                      fd;
    u_char                       *name;           /* NUL-terminated */
    size_t                        len;
    off_t                         written;
    uint64_t                      next_id;
    ngx_uint_t                    live;           /* journals open in it */
    ngx_uint_t                    undone;         /* records not done */
    ngx_uint_t                    kept;           /* failure records */

    /* fsync=on: group commit */
    ngx_queue_t                   waiting;        /* journal_wait_t */
    off_t                         synced;         /* on disk up to */
    off_t                         syncing_to;
    void                         *task;           /* ngx_thread_task_t */

    unsigned                      current:1;
    unsigned                      syncing:1;      /* a task runs */
} ngx_http_kochava_spool_file_t;


/*
 * A spool directory.  The configuration part is shared by every location
 * naming the same directory; the file part is each worker's own (set up
 * after the fork).
 */
struct ngx_http_kochava_spool_s {
    ngx_str_t                     path;          /* no trailing slash */
    off_t                         max_size;
    off_t                         file_size;
    ngx_msec_t                    interval;
    ngx_flag_t                    fsync;
    ngx_uint_t                    index;         /* of its gauge */
    void                         *thread_pool;   /* fsync=on */

    ngx_http_kochava_spool_file_t  *file;        /* current, or NULL */
    ngx_queue_t                   files;         /* open, rotated out too */
    time_t                        opened;
    ngx_uint_t                    seq;
    ngx_event_t                   timer;
    ngx_log_t                    *log;
    ngx_http_kochava_ratelimit_t  errors[NGX_HTTP_KOCHAVA_SPOOL_NERRORS];
};


/*
 * The write-ahead records of one async request: n records with the ids
 * first .. first + n - 1 in file (NULL: none were written).
 */
typedef struct {
    ngx_http_kochava_spool_file_t  *file;
    uint64_t                      first;
    ngx_uint_t                    n;
    off_t                         end;            /* of its records */
} ngx_http_kochava_journal_t;


/* a request waiting for its journal records to reach the disk */
typedef struct {
    ngx_queue_t                   queue;
    ngx_http_kochava_spool_file_t  *file;          /* NULL: not waiting */
    off_t                         end;
    ngx_int_t                     rc;             /* NGX_OK: on disk */
    ngx_event_t                  *event;          /* posted when over */
} ngx_http_kochava_journal_wait_t;


/* the answer of a spool write */
#define NGX_HTTP_KOCHAVA_SPOOLED   0
#define NGX_HTTP_KOCHAVA_DROPPED   1


char *ngx_http_kochava_spool_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kochava_spool_init_process(ngx_cycle_t *cycle);
void ngx_http_kochava_spool_exit_process(ngx_cycle_t *cycle);

/*
 * Appends one failure record, whole or not at all.  error is the short
 * reason ("503", "timeout", ...).  Returns NGX_HTTP_KOCHAVA_SPOOLED or
 * NGX_HTTP_KOCHAVA_DROPPED (over max_size, or the disk refused it: counted,
 * and logged at "error" at most once a second).
 */
ngx_int_t ngx_http_kochava_spool_write(ngx_http_kochava_spool_t *spool,
    kochava_dest_e dest, ngx_str_t *uri, const char *body, size_t len,
    const char *error, ngx_log_t *log);

/*
 * Appends the records of outs[0 .. n - 1] (uris: the pass URI of each
 * destination) in one write(2), with ids j->first .. and "attempts":0.
 * Returns NGX_OK with j set, or NGX_DECLINED (over max_size, or the disk
 * refused it: counted, logged at most once a second, j->file NULL).
 */
ngx_int_t ngx_http_kochava_journal_write(ngx_http_kochava_spool_t *spool,
    kochava_out_t *outs, ngx_uint_t n, ngx_str_t *uris,
    ngx_http_kochava_journal_t *j, ngx_log_t *log);

/*
 * The journal's fan-out is over: the records whose done[i] is set are
 * marked done (one line, one write), the others stay for kochava-replay.
 * done may be NULL (none is done).  The file is let go.
 */
void ngx_http_kochava_journal_done(ngx_http_kochava_journal_t *j,
    u_char *done, ngx_log_t *log);

/*
 * fsync=on: w->event is posted once j's records are on disk (w->rc
 * NGX_OK) or the disk refused them (NGX_ERROR).  One fdatasync() in a
 * thread covers every request that waits when it starts (group commit).
 * Returns NGX_OK (w waits) or NGX_ERROR (no sync could be started).
 */
ngx_int_t ngx_http_kochava_journal_sync(ngx_http_kochava_journal_t *j,
    ngx_http_kochava_journal_wait_t *w, ngx_log_t *log);

/* w no longer waits (its request is freed) */
void ngx_http_kochava_journal_unwait(ngx_http_kochava_journal_wait_t *w);


#endif /* _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_ */
