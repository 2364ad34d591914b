
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * kochava-replay: drains the spool of ngx_kochava_module (docs/replay.md).
 *
 * A pass lists the closed files, reads them a batch at a time (up to
 * REPLAY_BATCH_BYTES), decides for each record (send it, keep it: not due
 * or not sendable, dead letter: too old), sends what is due, and commits
 * each file of the batch before the next batch is read.  --once makes
 * passes until nothing retryable is left (or --passes, or the next record
 * is due more than --once-wait away); without it passes run every
 * --interval until a signal.
 */


#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "replay.h"


#define REPLAY_BATCH_BYTES  (32 * 1024 * 1024)
#define REPLAY_BATCH_FILES  1024


/* what a pass left in the spool */
typedef struct {
    size_t                    remaining;     /* records kept */
    size_t                    retryable;     /* of them: will be sent */
    size_t                    unsendable;    /* no URL for their dest */
    int64_t                   next_due_ms;   /* earliest; 0: none */
    size_t                    errors;        /* files not committed */
    size_t                    unreadable;    /* files not read: records
                                                unknown, not "0 remain" */
    size_t                    unread;        /* files a signal left */
} replay_pass_t;


static void replay_pass(const replay_conf_t *conf, replay_hold_t *holds,
    replay_stats_t *stats, replay_pass_t *pass);
static int replay_batch(const replay_conf_t *conf, replay_file_t **files,
    size_t nfiles, replay_hold_t *holds, replay_stats_t *stats,
    replay_pass_t *pass);
static void replay_commit(const replay_conf_t *conf, replay_file_t **files,
    size_t nfiles, replay_pass_t *pass);
static void replay_due(replay_pass_t *pass, const replay_hold_t *hold,
    int64_t due_ms);
static void replay_signal(int signo);


volatile sig_atomic_t  replay_stop;


int
main(int argc, char **argv)
{
    int                lock, rc;
    long               n;
    int64_t            wait, now;
    struct stat        st;
    replay_conf_t      conf;
    replay_hold_t      holds[KOCHAVA_NDESTS];
    replay_pass_t      pass;
    replay_stats_t     stats;
    struct sigaction   sa;

    rc = replay_options(argc, argv, &conf);

    if (rc != 0) {
        replay_options_free(&conf);
        return rc == -1 ? REPLAY_EXIT_DONE : rc;
    }

    conf.tty = isatty(STDOUT_FILENO);
    replay_log_init(conf.tty, conf.list);

    if (stat(conf.spool, &st) == -1 || !S_ISDIR(st.st_mode)) {
        replay_error("--spool %s: %s", conf.spool,
                     errno ? strerror(errno) : "not a directory");
        replay_options_free(&conf);
        return REPLAY_EXIT_USAGE;
    }

    if (conf.list) {
        /* reads only: no lock, no owner needed */
        rc = replay_list(&conf);
        replay_options_free(&conf);
        return rc;
    }

    if (replay_spool_owner(conf.spool, &st) != 0) {
        replay_options_free(&conf);
        return REPLAY_EXIT_USAGE;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = replay_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    lock = replay_spool_lock(conf.spool);

    if (lock < 0) {
        if (lock == -1) {
            replay_log("%s/" REPLAY_LOCK " is held by another "
                       "kochava-replay: nothing done", conf.spool);
        }
        replay_options_free(&conf);
        return lock == -1 ? REPLAY_EXIT_REMAIN : REPLAY_EXIT_USAGE;
    }

    if (replay_sender_init() != 0) {
        close(lock);
        replay_options_free(&conf);
        return REPLAY_EXIT_REMAIN;
    }

    replay_backoff_seed();
    replay_spool_clean(conf.spool);

    memset(holds, 0, sizeof(holds));
    memset(&stats, 0, sizeof(stats));
    memset(&pass, 0, sizeof(pass));

    if (conf.url[KOCHAVA_DEST_BRAZE] == NULL) {
        replay_log("no --braze-url: braze records are kept, not sent");
    }

    for (n = 1; !replay_stop; n++) {

        replay_pass(&conf, holds, &stats, &pass);

        if (replay_stop) {
            break;
        }

        now = replay_now_ms();

        if (conf.once) {
            if (pass.retryable == 0 || n >= conf.passes) {
                break;
            }

            wait = pass.next_due_ms - now;

            if (wait > conf.once_wait_ms) {
                replay_log("next record due in %lld s, more than "
                           "--once-wait: stopping",
                           (long long) (wait + 999) / 1000);
                break;
            }

        } else {
            wait = conf.interval_ms;

            if (pass.retryable > 0 && pass.next_due_ms - now < wait) {
                wait = pass.next_due_ms - now;
            }

            if (wait < 200) {
                wait = 200;
            }
        }

        if (wait > 0) {
            if (conf.once) {
                replay_log("%zu record(s) to retry: next pass in %lld ms",
                           pass.retryable, (long long) wait);
            }

            replay_sleep_ms(wait);
        }
    }

    replay_progress(&stats, 1);
    replay_progress_end();

    replay_log("done: %zu record(s) read, %zu sent, %zu ok, %zu retry, "
               "%zu dead, %zu torn line(s); %zu record(s) remain%s%s",
               stats.records, stats.sent, stats.ok, stats.retry, stats.dead,
               stats.torn, pass.remaining,
               pass.unreadable ? " in the files read" : "",
               replay_stop ? " (stopped by a signal)" : "");

    if (pass.unreadable > 0) {
        replay_log("%zu file(s) could not be read (errors above): their "
                   "records are neither sent nor counted", pass.unreadable);
    }

    if (pass.unread > 0) {
        replay_log("%zu file(s) not read: stopped by a signal", pass.unread);
    }

    if (pass.unsendable > 0) {
        replay_log("%zu braze record(s) kept: no --braze-url",
                   pass.unsendable);
    }

    replay_sender_done();
    close(lock);
    replay_options_free(&conf);

    if (pass.errors > 0 || pass.unreadable > 0) {
        return REPLAY_EXIT_IO;
    }

    if (pass.remaining > 0 || pass.unread > 0) {
        return REPLAY_EXIT_REMAIN;
    }

    return REPLAY_EXIT_DONE;
}


static void
replay_pass(const replay_conf_t *conf, replay_hold_t *holds,
    replay_stats_t *stats, replay_pass_t *pass)
{
    char             **names;
    size_t             n, i, nfiles, bytes;
    replay_file_t     *files[REPLAY_BATCH_FILES];
    replay_stats_t     before;

    memset(pass, 0, sizeof(replay_pass_t));

    if (replay_spool_list(conf->spool, &names, &n) != 0) {
        pass->errors++;
        return;
    }

    before = *stats;
    stats->files = n;
    stats->files_done = 0;
    replay_progress(stats, 1);

    i = 0;

    while (i < n && !replay_stop) {

        nfiles = 0;
        bytes = 0;

        while (i < n && nfiles < REPLAY_BATCH_FILES
               && bytes < REPLAY_BATCH_BYTES)
        {
            switch (replay_spool_read(conf->spool, names[i], &files[nfiles],
                                      stats))
            {
            case 0:
                bytes += files[nfiles]->size;
                nfiles++;
                break;

            case 1:
                /* gone meanwhile */
                stats->files_done++;
                break;

            default:
                stats->files_done++;
                pass->unreadable++;
            }

            i++;
        }

        if (replay_batch(conf, files, nfiles, holds, stats, pass) != 0) {
            pass->errors++;
        }
    }

    /* a signal came: files not read this pass still hold records */
    pass->unread = n - i;

    replay_spool_names_free(names, n);

    if (n == 0) {
        if (conf->once) {
            replay_log("no spool files");
        }
        return;
    }

    replay_progress(stats, 1);

    if (stats->records > before.records || stats->torn > before.torn
        || pass->unreadable > 0)
    {
        replay_log("pass: %zu file(s), %zu record(s): %zu sent, %zu ok, "
                   "%zu retry, %zu dead, %zu deferred, %zu torn; "
                   "%zu remain%s, %zu file(s) not read",
                   n, stats->records - before.records,
                   stats->sent - before.sent, stats->ok - before.ok,
                   stats->retry - before.retry, stats->dead - before.dead,
                   stats->deferred - before.deferred,
                   stats->torn - before.torn, pass->remaining,
                   pass->unreadable ? " in the files read" : "",
                   pass->unreadable);
    }
}


/*
 * Sends the due records of a batch of files, --commit-every at a time,
 * committing the files of each group before the next one is started (a
 * crash re-sends at most one group), then commits each file.
 */
static int
replay_batch(const replay_conf_t *conf, replay_file_t **files,
    size_t nfiles, replay_hold_t *holds, replay_stats_t *stats,
    replay_pass_t *pass)
{
    int                rc;
    size_t             f, i, nsend, total, c, m;
    int64_t            now;
    replay_record_t   *rec, **send;

    total = 0;

    for (f = 0; f < nfiles; f++) {
        total += files[f]->nrecords;
    }

    send = malloc((total + 1) * sizeof(replay_record_t *));
    if (send == NULL) {
        replay_error("out of memory");
        for (f = 0; f < nfiles; f++) {
            replay_spool_file_free(files[f]);
        }
        return -1;
    }

    now = replay_now_ms();
    nsend = 0;

    for (f = 0; f < nfiles; f++) {
        for (i = 0; i < files[f]->nrecords; i++) {
            rec = &files[f]->records[i];

            if (rec->state == REPLAY_DEAD_INVALID) {
                stats->dead++;
                continue;
            }

            if (rec->state != REPLAY_KEEP) {
                continue;
            }

            if (conf->max_age_ms > 0
                && rec->first_failed < (now - conf->max_age_ms) / 1000)
            {
                rec->state = REPLAY_DEAD_AGE;
                files[f]->dirty = 1;
                stats->dead++;
                replay_log("%s: line %zu: first failed %lld s ago, more "
                           "than --max-age: dead letter", files[f]->name,
                           rec->lineno,
                           (long long) (now / 1000 - rec->first_failed));
                continue;
            }

            if (conf->url[rec->dest] == NULL
                || rec->not_before > now / 1000)
            {
                continue;
            }

            send[nsend++] = rec;
        }
    }

    rc = 0;

    for (c = 0; c < nsend && !replay_stop; c += m) {
        m = nsend - c;

        if (m > (size_t) conf->commit_every) {
            m = conf->commit_every;
        }

        for (i = c; i < c + m; i++) {
            send[i]->state = REPLAY_SEND;
        }

        if (replay_send(conf, send + c, m, holds, stats) != 0) {
            rc = -1;
        }

        for (i = c; i < c + m; i++) {
            switch (send[i]->state) {

            case REPLAY_SEND:
                /* libcurl failed us: left as it was */
                send[i]->state = REPLAY_KEEP;
                break;

            case REPLAY_DEFERRED:
                /* unchanged: a held destination rewrites nothing */
                break;

            default:
                send[i]->file->dirty = 1;
            }
        }

        if (c + m < nsend) {
            replay_commit(conf, files, nfiles, pass);
        }
    }

    free(send);

    now = replay_now_ms();

    for (f = 0; f < nfiles; f++) {

        for (i = 0; i < files[f]->nrecords; i++) {
            rec = &files[f]->records[i];

            switch (rec->state) {

            case REPLAY_KEEP:
                pass->remaining++;

                if (conf->url[rec->dest] == NULL) {
                    pass->unsendable++;
                    stats->kept++;

                } else {
                    pass->retryable++;
                    replay_due(pass, &holds[rec->dest],
                               rec->not_before * 1000);
                }
                break;

            case REPLAY_DEFERRED:
                pass->remaining++;
                pass->retryable++;
                replay_due(pass, &holds[rec->dest], 0);
                break;

            case REPLAY_RETRY:
                pass->remaining++;
                pass->retryable++;
                replay_due(pass, &holds[rec->dest], rec->retry_at_ms);
                break;

            default:
                break;
            }
        }
    }

    replay_commit(conf, files, nfiles, pass);

    for (f = 0; f < nfiles; f++) {
        stats->files_done++;
        replay_progress(stats, 0);
        replay_spool_file_free(files[f]);
    }

    return rc;
}


/* the files of a batch that changed since they were last committed */
static void
replay_commit(const replay_conf_t *conf, replay_file_t **files,
    size_t nfiles, replay_pass_t *pass)
{
    size_t  f;

    for (f = 0; f < nfiles; f++) {
        if (files[f]->dirty && !files[f]->failed
            && replay_spool_commit(conf->spool, files[f], replay_now_ms())
               != 0)
        {
            pass->errors++;
        }
    }
}


/* a record is due at due_ms, and not before its destination's probe */
static void
replay_due(replay_pass_t *pass, const replay_hold_t *hold, int64_t due_ms)
{
    if (hold->held && due_ms < hold->until_ms) {
        due_ms = hold->until_ms;
    }

    if (pass->next_due_ms == 0 || due_ms < pass->next_due_ms) {
        pass->next_due_ms = due_ms;
    }
}


static void
replay_signal(int signo)
{
    replay_stop = 1;
}
