
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kochava-replay: drains the module's spool directory (delivery.md, "The
 * spool").  Declarations shared by the files of replay/:
 *
 *   kochava_replay.c   main: the passes, signals, the exit status
 *   replay_options.c   the command line and --help
 *   replay_record.c    one spool line: validate, find raw spans, rewrite
 *   replay_spool.c     the directory: lock, list, read, commit
 *   replay_sender.c    libcurl multi: send, judge the answers
 *   replay_backoff.c   exponential back-off with jitter, holds
 *   replay_log.c       progress line (terminal) or log lines
 *   replay_list.c      --list: what the spool holds, read only
 */


#ifndef _REPLAY_H_INCLUDED_
#define _REPLAY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/stat.h>

#include "kochava_core.h"


#define REPLAY_EXIT_DONE     0     /* nothing retryable left */
#define REPLAY_EXIT_REMAIN   1     /* records remain (or an I/O error) */
#define REPLAY_EXIT_USAGE    2     /* usage or configuration error */
#define REPLAY_EXIT_IO       3     /* a spool file not read or rewritten */

#define REPLAY_DEAD_LETTER   "dead-letter.jsonl"
#define REPLAY_LOCK          ".replay.lock"
#define REPLAY_TMP_PREFIX    ".replay-"

#define REPLAY_ERROR_LEN     64


typedef struct {
    const char               *spool;
    const char               *url[KOCHAVA_NDESTS];   /* NULL: kept */
    const char               *braze_key_file;
    char                     *auth_header;   /* "Authorization: Bearer " */

    unsigned                  once:1;
    unsigned                  list:1;        /* --list: read only */
    unsigned                  tty:1;         /* stdout is a terminal */

    long                      concurrency;
    long                      passes;        /* --once: at most */
    int64_t                   max_age_ms;    /* 0: no limit */
    int64_t                   timeout_ms;    /* one request, all of it */
    int64_t                   connect_timeout_ms;
    int64_t                   interval_ms;   /* daemon: poll */
    int64_t                   backoff_ms;    /* first delay */
    int64_t                   max_backoff_ms;
    int64_t                   probe_interval_ms;  /* a held destination */
    int64_t                   once_wait_ms;  /* --once: longest sleep */
    long                      commit_every;  /* records sent between two
                                                commits: a crash re-sends
                                                at most that many */
} replay_conf_t;


/* what happens to a record in this pass */
typedef enum {
    REPLAY_KEEP = 0,         /* left as it is: not due, or not sendable */
    REPLAY_SEND,             /* to be sent in this pass */
    REPLAY_OK,               /* delivered: removed */
    REPLAY_RETRY,            /* failed retryably: kept, attempts + 1 */
    REPLAY_DEFERRED,         /* its destination is held: kept as it is */
    REPLAY_DEAD,             /* permanent failure: dead letter */
    REPLAY_DEAD_AGE,         /* older than --max-age: dead letter */
    REPLAY_DEAD_INVALID,     /* valid JSON but no record: dead letter */
    REPLAY_GONE              /* delivered or dead, committed: no longer
                                in the file */
} replay_state_e;


typedef struct replay_file_s  replay_file_t;

typedef struct {
    replay_file_t            *file;
    const char               *line;          /* without its '\n' */
    size_t                    len;
    size_t                    lineno;
    long long                 id;            /* journal record; -1: none */

    kochava_dest_e            dest;
    const char               *body;          /* raw bytes of "body" */
    size_t                    body_len;
    long long                 attempts;
    long long                 first_failed;  /* epoch s */
    long long                 not_before;    /* epoch s, 0: none */

    replay_state_e            state;
    int64_t                   retry_at_ms;   /* REPLAY_RETRY: next try */
    char                      error[REPLAY_ERROR_LEN];
} replay_record_t;


struct replay_file_s {
    char                     *name;          /* in the spool */
    char                     *data;          /* the whole file */
    size_t                    size;
    unsigned                  mode;
    replay_record_t          *records;
    size_t                    nrecords;
    size_t                    torn;          /* lines skipped */
    unsigned                  dirty:1;       /* to be rewritten */
    unsigned                  failed:1;      /* a commit failed: not
                                                tried again this pass */
};


/*
 * Per destination, a circuit breaker.  A retryable failure holds the
 * destination: nothing is sent to it until until_ms; then one record, the
 * probe, goes (half-open) while its other records wait for the answer.
 * Any answer that is not retryable ends the hold; a failure holds it for
 * another --probe-interval (at least the Retry-After).
 */
typedef struct {
    int64_t                   until_ms;      /* held: the next probe */
    unsigned                  failures;      /* in a row */
    unsigned                  held:1;
    unsigned                  probing:1;     /* the probe is in flight */
} replay_hold_t;


/* what a record of a destination may do now (replay_hold_check) */
typedef enum {
    REPLAY_HOLD_SEND = 0,    /* not held: sent */
    REPLAY_HOLD_PROBE,       /* held, due: sent as the probe */
    REPLAY_HOLD_WAIT,        /* a probe is in flight: wait for it */
    REPLAY_HOLD_DEFER        /* held: not sent in this pass */
} replay_hold_e;


/* counters of the whole run: the progress line and the summary */
typedef struct {
    size_t                    files;         /* listed in this pass */
    size_t                    files_done;
    size_t                    records;       /* read */
    size_t                    sent;
    size_t                    ok;
    size_t                    retry;
    size_t                    deferred;
    size_t                    dead;
    size_t                    torn;
    size_t                    kept;          /* not due or not sendable */
    size_t                    errors;        /* I/O errors */
} replay_stats_t;


extern volatile sig_atomic_t  replay_stop;


/* replay_options.c */
int replay_options(int argc, char **argv, replay_conf_t *conf);
void replay_options_free(replay_conf_t *conf);
int replay_duration(const char *text, int64_t *ms);

/* replay_record.c */
int replay_record_parse(replay_record_t *rec, char *err, size_t errlen);
char *replay_record_format(const replay_record_t *rec, int64_t now_ms,
    size_t *len);
const char *replay_dest_label(kochava_dest_e dest);

/* replay_spool.c */
int replay_spool_owner(const char *dir, const struct stat *st);
int replay_spool_lock(const char *dir);
void replay_spool_clean(const char *dir);
size_t replay_spool_writing(const char *dir);
int replay_spool_list(const char *dir, char ***names, size_t *n);
void replay_spool_names_free(char **names, size_t n);
int replay_spool_read(const char *dir, const char *name,
    replay_file_t **file, replay_stats_t *stats);
int replay_spool_commit(const char *dir, replay_file_t *file,
    int64_t now_ms);
void replay_spool_file_free(replay_file_t *file);

/* replay_sender.c */
int replay_sender_init(void);
void replay_sender_done(void);
int replay_send(const replay_conf_t *conf, replay_record_t **recs,
    size_t n, replay_hold_t *holds, replay_stats_t *stats);

/* replay_backoff.c */
void replay_backoff_seed(void);
int64_t replay_backoff(const replay_conf_t *conf, unsigned failures);
replay_hold_e replay_hold_check(replay_hold_t *hold, int64_t now_ms);
void replay_hold_failed(const replay_conf_t *conf, replay_hold_t *hold,
    kochava_dest_e dest, const char *error, int64_t now_ms,
    int64_t retry_after_ms);
void replay_hold_answered(replay_hold_t *hold, kochava_dest_e dest);
int64_t replay_now_ms(void);
void replay_sleep_ms(int64_t ms);

/* replay_list.c */
int replay_list(const replay_conf_t *conf);

/* replay_log.c */
void replay_log_init(int tty, int to_stderr);
void replay_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void replay_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void replay_progress(const replay_stats_t *stats, int force);
void replay_progress_end(void);


#endif /* _REPLAY_H_INCLUDED_ */
