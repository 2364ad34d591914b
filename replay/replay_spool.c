
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The spool directory: the lock, the closed files (*.jsonl, never
 * *.jsonl.part nor dead-letter.jsonl), reading one into records, and
 * committing what a pass did to it:
 *
 *   1. dead records are appended to dead-letter.jsonl (one write(2) per
 *      record line, O_APPEND), then fsync();
 *   2. the records that stay are written to DIR/.replay-<pid>-<n>.tmp,
 *      fsync()ed and renamed over the file (or the file is removed when
 *      nothing stays), then the directory is fsync()ed.
 *
 * A file is committed after every --commit-every records sent (the pass
 * calls it again as its records go out), so delivered records leave the
 * file in steps: records not sent yet are written back unchanged.
 *
 * A crash before 2 leaves the file as it was: its delivered records are
 * sent again, its dead ones may be appended twice (at-least-once).  No
 * record is ever only in memory.
 *
 * The module's journal records carry an "id"; a {"done":[ids]} line of
 * the same file marks them delivered (or written again as a failure
 * record): they are left out when the file is read, and the done lines
 * go with them when it is committed.
 */


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "replay.h"


static int replay_cmp(const void *a, const void *b);
static int replay_id_cmp(const void *a, const void *b);
static long long *replay_done_ids(const char *data, size_t size,
    size_t *n);
static int replay_write_all(int fd, const char *p, size_t len);
static int replay_dead_letter(const char *dir, replay_file_t *file,
    int64_t now_ms);
static int replay_sync_dir(const char *dir);
static void replay_spool_committed(replay_file_t *file);
static void replay_spool_scan(const char *dir, const char *prefix,
    const char *suffix, void (*handler)(const char *dir, const char *name,
    void *data), void *data);
static void replay_spool_unlink(const char *dir, const char *name,
    void *data);
static void replay_spool_one(const char *dir, const char *name, void *data);
static char *replay_path(const char *dir, const char *name);
static const char *replay_user(uid_t uid, char *buf, size_t len);


static unsigned  replay_tmp_seq;


/*
 * The replay runs as the spool's owner, nginx's worker user: the files it
 * rewrites, the dead letter file and the lock are created by it, and a
 * run as root would leave root's files that the next run as that user
 * (the timer) cannot read or replace.  Returns 0, or -1 said on stderr.
 */
int
replay_spool_owner(const char *dir, const struct stat *st)
{
    char  owner[64], self[64];

    if (st->st_uid == geteuid()) {
        return 0;
    }

    replay_user(st->st_uid, owner, sizeof(owner));
    replay_user(geteuid(), self, sizeof(self));

    replay_error("--spool %s belongs to %s, and this is %s: the files it "
                 "would write would be %s's, which %s could not read or "
                 "replace; run it as the spool's owner: sudo -u %s "
                 "kochava-replay ...", dir, owner, self, self, owner,
                 owner);

    return -1;
}


/* returns the lock's descriptor (kept open), -1 when held, -2 on error */
int
replay_spool_lock(const char *dir)
{
    int    fd;
    char  *path;

    path = replay_path(dir, REPLAY_LOCK);
    if (path == NULL) {
        return -2;
    }

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd == -1) {
        replay_error("%s: %s%s", path, strerror(errno),
                     errno == EACCES ? " (left by a run as another user? "
                     "remove it)" : "");
        free(path);
        return -2;
    }

    free(path);

    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        close(fd);
        return -1;
    }

    return fd;
}


/* temporary files a crashed replay left (under the lock: ours) */
void
replay_spool_clean(const char *dir)
{
    replay_spool_scan(dir, REPLAY_TMP_PREFIX, ".tmp", replay_spool_unlink,
                      NULL);
}


/* the files nginx is still writing (*.jsonl.part): counted, not opened */
size_t
replay_spool_writing(const char *dir)
{
    size_t  n;

    n = 0;
    replay_spool_scan(dir, "", ".jsonl.part", replay_spool_one, &n);

    return n;
}


/* calls handler for each name in dir with that prefix and suffix */
static void
replay_spool_scan(const char *dir, const char *prefix, const char *suffix,
    void (*handler)(const char *dir, const char *name, void *data),
    void *data)
{
    DIR            *d;
    size_t          len, plen, slen;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    plen = strlen(prefix);
    slen = strlen(suffix);

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if (len > plen + slen
            && strncmp(de->d_name, prefix, plen) == 0
            && strcmp(de->d_name + len - slen, suffix) == 0)
        {
            handler(dir, de->d_name, data);
        }
    }

    closedir(d);
}


static void
replay_spool_unlink(const char *dir, const char *name, void *data)
{
    char  *path;

    path = replay_path(dir, name);
    if (path == NULL) {
        return;
    }

    if (unlink(path) == 0) {
        replay_log("removed %s, left by an interrupted replay", name);
    }

    free(path);
}


static void
replay_spool_one(const char *dir, const char *name, void *data)
{
    (*(size_t *) data)++;
}


/* the closed spool files, sorted by name */
int
replay_spool_list(const char *dir, char ***names, size_t *n)
{
    DIR            *d;
    char          **list, **more, *path;
    size_t          len, nalloc;
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        replay_error("%s: %s", dir, strerror(errno));
        return -1;
    }

    list = NULL;
    nalloc = 0;
    *n = 0;

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if (de->d_name[0] == '.' || len <= 6
            || strcmp(de->d_name + len - 6, ".jsonl") != 0
            || strcmp(de->d_name, REPLAY_DEAD_LETTER) == 0)
        {
            continue;
        }

        path = replay_path(dir, de->d_name);
        if (path == NULL) {
            goto failed;
        }

        if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }

        free(path);

        if (*n == nalloc) {
            nalloc = nalloc ? 2 * nalloc : 64;
            more = realloc(list, nalloc * sizeof(char *));
            if (more == NULL) {
                goto failed;
            }
            list = more;
        }

        list[*n] = strdup(de->d_name);
        if (list[*n] == NULL) {
            goto failed;
        }

        (*n)++;
    }

    closedir(d);

    if (*n > 1) {
        qsort(list, *n, sizeof(char *), replay_cmp);
    }

    *names = list;

    return 0;

failed:

    replay_error("out of memory listing %s", dir);
    closedir(d);
    replay_spool_names_free(list, *n);
    *n = 0;

    return -1;
}


void
replay_spool_names_free(char **names, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(names[i]);
    }

    free(names);
}


/*
 * Reads a file and splits it into records.  A line that is not complete
 * JSON (no '\n' after it, or jansson refuses it) is torn: counted, logged
 * and left out.  Returns 0, 1 when the file is gone, -1 on error.
 */
int
replay_spool_read(const char *dir, const char *name, replay_file_t **file,
    replay_stats_t *stats)
{
    int               fd, rc;
    char             *path, *p, *end, *nl, err[160];
    size_t            nlines, ndone;
    long long        *done;
    ssize_t           got;
    struct stat       st;
    replay_file_t    *f;
    replay_record_t  *rec;

    path = replay_path(dir, name);
    if (path == NULL) {
        return -1;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd == -1) {
        rc = errno;

        if (rc == ENOENT) {
            free(path);
            return 1;
        }

        if (rc == EACCES && lstat(path, &st) == 0) {
            replay_error("%s: %s (owner %s, mode %04o): its records are "
                         "not read", name, strerror(rc),
                         replay_user(st.st_uid, err, sizeof(err)),
                         (unsigned) (st.st_mode & 07777));

        } else {
            replay_error("%s: %s: its records are not read", name,
                         strerror(rc));
        }

        free(path);
        return -1;
    }

    free(path);

    f = calloc(1, sizeof(replay_file_t));
    if (f == NULL || fstat(fd, &st) == -1) {
        goto failed;
    }

    f->name = strdup(name);
    f->mode = st.st_mode & 0777;
    f->data = malloc(st.st_size + 1);

    if (f->name == NULL || f->data == NULL) {
        goto failed;
    }

    while (f->size < (size_t) st.st_size) {
        got = read(fd, f->data + f->size, st.st_size - f->size);
        if (got == -1 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        f->size += got;
    }

    close(fd);
    fd = -1;

    end = f->data + f->size;
    nlines = 0;

    for (p = f->data; p < end; p++) {
        if (*p == '\n') {
            nlines++;
        }
    }

    f->records = calloc(nlines + 1, sizeof(replay_record_t));
    if (f->records == NULL) {
        goto failed;
    }

    done = replay_done_ids(f->data, f->size, &ndone);
    if (done == NULL) {
        goto failed;
    }

    p = f->data;
    nlines = 0;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        nlines++;

        if (nl == NULL) {
            f->torn++;
            stats->torn++;
            replay_log("%s: line %zu: torn, %zu bytes without a newline: "
                       "skipped", name, nlines, (size_t) (end - p));
            break;
        }

        if (nl == p) {
            p++;
            continue;
        }

        if (strncmp(p, "{\"done\":[", 9) == 0) {
            /* read by replay_done_ids(); dropped by a rewrite */
            f->dirty = 1;
            p = nl + 1;
            continue;
        }

        rec = &f->records[f->nrecords];
        rec->file = f;
        rec->line = p;
        rec->len = nl - p;
        rec->lineno = nlines;

        p = nl + 1;

        rc = replay_record_parse(rec, err, sizeof(err));

        if (rc == -1) {
            f->torn++;
            stats->torn++;
            replay_log("%s: line %zu: torn (%s), %zu bytes: skipped", name,
                       rec->lineno, err, rec->len);
            continue;
        }

        if (rc == 1) {
            rec->state = REPLAY_DEAD_INVALID;
            f->dirty = 1;
            err[REPLAY_ERROR_LEN - 1] = '\0';
            memcpy(rec->error, err, REPLAY_ERROR_LEN);
        }

        f->nrecords++;

        if (rc == 0 && rec->id >= 0 && ndone
            && bsearch(&rec->id, done, ndone, sizeof(long long),
                       replay_id_cmp))
        {
            /* delivered by the module: settled in the file itself */
            rec->state = REPLAY_GONE;
            f->dirty = 1;
            continue;
        }

        stats->records++;
    }

    free(done);

    /*
     * Every reader of a spool file (a pass, --list) comes here: a record
     * already settled in the file itself (delivered, marked done) is set
     * REPLAY_GONE above, with f->dirty so that a rewrite drops it;
     * neither a pass nor --list looks at a REPLAY_GONE record.
     */

    if (f->torn > 0) {
        f->dirty = 1;
    }

    *file = f;

    return 0;

failed:

    replay_error("%s: %s", name, errno ? strerror(errno) : "out of memory");

    if (fd != -1) {
        close(fd);
    }

    replay_spool_file_free(f);

    return -1;
}


/*
 * Writes what the pass did to the file (see the top of this file).
 * Returns 0, or -1 with the file left as it was (its records are tried
 * again by the next pass).
 */
int
replay_spool_commit(const char *dir, replay_file_t *file, int64_t now_ms)
{
    int               fd, keep;
    char             *path, *tmp, name[64], *line;
    size_t            i, len;
    replay_record_t  *rec;

    if (!file->dirty || file->failed) {
        return 0;
    }

    keep = 0;

    for (i = 0; i < file->nrecords; i++) {
        switch (file->records[i].state) {
        case REPLAY_KEEP:
        case REPLAY_DEFERRED:
        case REPLAY_RETRY:
        case REPLAY_SEND:
            keep = 1;
            break;
        default:
            break;
        }
    }

    /* once its dead letters are appended, a failure must not append
       them again in this pass */
    file->failed = 1;

    if (replay_dead_letter(dir, file, now_ms) != 0) {
        return -1;
    }

    path = replay_path(dir, file->name);
    if (path == NULL) {
        return -1;
    }

    if (!keep) {
        if (unlink(path) == -1 && errno != ENOENT) {
            replay_error("%s: %s", file->name, strerror(errno));
            free(path);
            return -1;
        }

        free(path);

        if (replay_sync_dir(dir) != 0) {
            return -1;
        }

        replay_spool_committed(file);

        return 0;
    }

    snprintf(name, sizeof(name), REPLAY_TMP_PREFIX "%ld-%u.tmp",
             (long) getpid(), replay_tmp_seq++);

    tmp = replay_path(dir, name);
    if (tmp == NULL) {
        free(path);
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file->mode);
    if (fd == -1) {
        replay_error("%s: %s", tmp, strerror(errno));
        goto failed;
    }

    for (i = 0; i < file->nrecords; i++) {
        rec = &file->records[i];

        switch (rec->state) {

        case REPLAY_KEEP:
        case REPLAY_DEFERRED:
        case REPLAY_SEND:
            if (replay_write_all(fd, rec->line, rec->len + 1) != 0) {
                goto failed_write;
            }
            break;

        case REPLAY_RETRY:
            line = replay_record_format(rec, now_ms, &len);
            if (line == NULL) {
                errno = ENOMEM;
                goto failed_write;
            }

            if (replay_write_all(fd, line, len) != 0) {
                free(line);
                goto failed_write;
            }

            free(line);
            break;

        default:
            break;
        }
    }

    if (fsync(fd) == -1) {
        goto failed_write;
    }

    if (close(fd) == -1) {
        fd = -1;
        goto failed_write;
    }

    fd = -1;

    if (rename(tmp, path) == -1) {
        goto failed_write;
    }

    free(tmp);
    free(path);

    if (replay_sync_dir(dir) != 0) {
        return -1;
    }

    replay_spool_committed(file);

    return 0;

failed_write:

    replay_error("%s: writing %s: %s", file->name, name, strerror(errno));

    if (fd != -1) {
        close(fd);
    }

    unlink(tmp);

failed:

    free(tmp);
    free(path);

    return -1;
}


/* what is on disk now: the delivered and the dead are gone from it */
static void
replay_spool_committed(replay_file_t *file)
{
    size_t            i;
    replay_record_t  *rec;

    for (i = 0; i < file->nrecords; i++) {
        rec = &file->records[i];

        switch (rec->state) {
        case REPLAY_OK:
        case REPLAY_DEAD:
        case REPLAY_DEAD_AGE:
        case REPLAY_DEAD_INVALID:
            rec->state = REPLAY_GONE;
            break;
        default:
            break;
        }
    }

    file->torn = 0;
    file->dirty = 0;
    file->failed = 0;
}


void
replay_spool_file_free(replay_file_t *file)
{
    if (file == NULL) {
        return;
    }

    free(file->name);
    free(file->data);
    free(file->records);
    free(file);
}


static int
replay_dead_letter(const char *dir, replay_file_t *file, int64_t now_ms)
{
    int               fd, rc;
    char             *path, *line;
    size_t            i, len;
    replay_record_t  *rec;

    fd = -1;
    rc = 0;

    for (i = 0; i < file->nrecords && rc == 0; i++) {
        rec = &file->records[i];

        if (rec->state != REPLAY_DEAD && rec->state != REPLAY_DEAD_AGE
            && rec->state != REPLAY_DEAD_INVALID)
        {
            continue;
        }

        if (fd == -1) {
            path = replay_path(dir, REPLAY_DEAD_LETTER);
            if (path == NULL) {
                return -1;
            }

            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0640);
            free(path);

            if (fd == -1) {
                replay_error(REPLAY_DEAD_LETTER ": %s", strerror(errno));
                return -1;
            }
        }

        if (rec->state == REPLAY_DEAD_INVALID) {
            /* valid JSON, but no record: kept as it came */
            rc = replay_write_all(fd, rec->line, rec->len + 1);

            replay_log("%s: line %zu: invalid record (%s): dead letter",
                       file->name, rec->lineno, rec->error);
            continue;
        }

        line = replay_record_format(rec, now_ms, &len);
        if (line == NULL) {
            errno = ENOMEM;
            rc = -1;
            break;
        }

        rc = replay_write_all(fd, line, len);
        free(line);
    }

    if (fd == -1) {
        return 0;
    }

    if (rc == 0 && fsync(fd) == -1) {
        rc = -1;
    }

    if (rc != 0) {
        replay_error(REPLAY_DEAD_LETTER ": %s", strerror(errno));
    }

    close(fd);

    return rc;
}


static int
replay_write_all(int fd, const char *p, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }

        p += n;
        len -= n;
    }

    return 0;
}


static int
replay_sync_dir(const char *dir)
{
    int  fd, rc;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        replay_error("%s: %s", dir, strerror(errno));
        return -1;
    }

    rc = fsync(fd);
    if (rc == -1) {
        replay_error("%s: fsync: %s", dir, strerror(errno));
    }

    close(fd);

    return rc;
}


static char *
replay_path(const char *dir, const char *name)
{
    char    *path;
    size_t   dlen, nlen;

    dlen = strlen(dir);
    nlen = strlen(name);

    path = malloc(dlen + nlen + 2);
    if (path == NULL) {
        replay_error("out of memory");
        return NULL;
    }

    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, name, nlen + 1);

    return path;
}


/* a user's name, or its number */
static const char *
replay_user(uid_t uid, char *buf, size_t len)
{
    struct passwd  *pw;

    pw = getpwuid(uid);

    if (pw != NULL) {
        snprintf(buf, len, "%s", pw->pw_name);

    } else {
        snprintf(buf, len, "uid %ld", (long) uid);
    }

    return buf;
}


static int
replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


/*
 * The ids of the {"done":[...]} lines of a file, sorted (a torn or odd
 * done line marks nothing: its records are sent, at least once).
 * Returns a malloc()ed array (of at least one), NULL on allocation
 * failure.
 */
static long long *
replay_done_ids(const char *data, size_t size, size_t *n)
{
    char        *q;
    size_t       cap, got, start;
    long long   *ids, *more, id;
    const char  *p, *end, *nl;

    cap = 64;
    got = 0;

    ids = malloc(cap * sizeof(long long));
    if (ids == NULL) {
        return NULL;
    }

    end = data + size;

    for (p = data; p < end; p = nl + 1) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            break;
        }

        if (nl - p < 12 || strncmp(p, "{\"done\":[", 9) != 0
            || strncmp(nl - 2, "]}", 2) != 0)
        {
            continue;
        }

        start = got;
        p += 9;

        while (p < nl - 2) {
            errno = 0;
            id = strtoll(p, &q, 10);

            if (q == p || errno || id < 0 || (*q != ',' && *q != ']')) {
                /* not ours: its ids do not count */
                got = start;
                break;
            }

            if (got == cap) {
                cap *= 2;
                more = realloc(ids, cap * sizeof(long long));
                if (more == NULL) {
                    free(ids);
                    return NULL;
                }
                ids = more;
            }

            ids[got++] = id;
            p = q + 1;
        }
    }

    qsort(ids, got, sizeof(long long), replay_id_cmp);

    *n = got;

    return ids;
}


static int
replay_id_cmp(const void *a, const void *b)
{
    long long  x, y;

    x = *(const long long *) a;
    y = *(const long long *) b;

    return (x > y) - (x < y);
}
