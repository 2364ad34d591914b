
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * kochava-replay --list: what the spool holds, without taking the lock or
 * writing anything.  The closed files are read one at a time through
 * replay_spool_read() (the reader a pass uses: a record it settles as
 * REPLAY_GONE is not listed), the dead letter file line by line.
 *
 * The output is a table for a person and for awk alike: every data line
 * starts with its kind ("dest", "error", "dead", "files"), then
 * blank-separated columns; a last_error is the last column, a JSON string
 * (it may hold blanks); lines starting with '#' name the columns.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "replay.h"


#define REPLAY_LIST_AGES    4        /* <1h, 1h-24h, >24h, expired */
#define REPLAY_LIST_GROUPS  100      /* then "(other)" */


typedef struct {
    size_t                    records;
    size_t                    due;
    size_t                    later;         /* not_before ahead */
    size_t                    age[REPLAY_LIST_AGES];
    long long                 oldest;        /* first_failed; 0: none */
} replay_list_dest_t;


/* records by destination, reason ("dead" only) and last_error */
typedef struct {
    char                      dest[24];
    char                      reason[16];
    char                      error[REPLAY_ERROR_LEN];
    size_t                    records;
} replay_list_group_t;


typedef struct {
    replay_list_group_t      *group;
    size_t                    n;
    size_t                    nalloc;
} replay_list_groups_t;


typedef struct {
    replay_list_dest_t        dest[KOCHAVA_NDESTS + 1];   /* + all */
    replay_list_groups_t      errors;
    replay_list_groups_t      dead;
    size_t                    files;
    size_t                    bytes;
    size_t                    writing;       /* *.jsonl.part */
    size_t                    torn;
    size_t                    invalid;
    size_t                    unreadable;
} replay_list_t;


static void replay_list_record(const replay_conf_t *conf, replay_list_t *l,
    const replay_record_t *rec, long long now);
static int replay_list_dead(const char *dir, replay_list_t *l);
static int replay_list_count(replay_list_groups_t *g, const char *dest,
    const char *reason, const char *error);
static void replay_list_print(const replay_conf_t *conf, replay_list_t *l,
    long long now);
static void replay_list_print_groups(const char *kind,
    replay_list_groups_t *g, int reason);
static const char *replay_list_age(long long secs, char *buf, size_t len);
static void replay_list_json(const char *s);
static int replay_list_cmp(const void *a, const void *b);


/* returns the exit status: 0, or 3 when a file could not be read */
int
replay_list(const replay_conf_t *conf)
{
    int              rc;
    char           **names;
    size_t           n, i, r;
    long long        now;
    replay_file_t   *file;
    replay_list_t    l;
    replay_stats_t   stats;

    memset(&l, 0, sizeof(replay_list_t));
    memset(&stats, 0, sizeof(replay_stats_t));

    if (replay_spool_list(conf->spool, &names, &n) != 0) {
        return REPLAY_EXIT_IO;
    }

    now = replay_now_ms() / 1000;

    for (i = 0; i < n; i++) {
        rc = replay_spool_read(conf->spool, names[i], &file, &stats);

        if (rc == 1) {
            continue;
        }

        if (rc != 0) {
            l.unreadable++;
            continue;
        }

        l.files++;
        l.bytes += file->size;
        l.torn += file->torn;

        for (r = 0; r < file->nrecords; r++) {
            replay_list_record(conf, &l, &file->records[r], now);
        }

        replay_spool_file_free(file);
    }

    replay_spool_names_free(names, n);

    l.writing = replay_spool_writing(conf->spool);

    if (replay_list_dead(conf->spool, &l) != 0) {
        l.unreadable++;
    }

    replay_list_print(conf, &l, now);

    free(l.errors.group);
    free(l.dead.group);

    return l.unreadable ? REPLAY_EXIT_IO : REPLAY_EXIT_DONE;
}


static void
replay_list_record(const replay_conf_t *conf, replay_list_t *l,
    const replay_record_t *rec, long long now)
{
    int                  a, d;
    long long            age;
    replay_list_dest_t  *ld;

    switch (rec->state) {

    case REPLAY_GONE:
        return;

    case REPLAY_DEAD_INVALID:
        l->invalid++;
        return;

    default:
        break;
    }

    age = now - rec->first_failed;

    if (conf->max_age_ms > 0 && age > conf->max_age_ms / 1000) {
        a = 3;

    } else if (age > 86400) {
        a = 2;

    } else if (age >= 3600) {
        a = 1;

    } else {
        a = 0;
    }

    for (d = 0; d < 2; d++) {
        ld = &l->dest[d == 0 ? (int) rec->dest : KOCHAVA_NDESTS];

        ld->records++;
        ld->age[a]++;

        if (rec->not_before > now) {
            ld->later++;

        } else {
            ld->due++;
        }

        if (ld->oldest == 0 || rec->first_failed < ld->oldest) {
            ld->oldest = rec->first_failed;
        }
    }

    replay_list_count(&l->errors, replay_dest_label(rec->dest), "",
                      rec->error);
}


/* dead-letter.jsonl, a line at a time: it grows without bound */
static int
replay_list_dead(const char *dir, replay_list_t *l)
{
    char         *path, *line, error[REPLAY_ERROR_LEN];
    FILE         *f;
    size_t        cap;
    ssize_t       len;
    json_t       *root, *v;
    const char   *dest, *reason;

    path = malloc(strlen(dir) + sizeof("/" REPLAY_DEAD_LETTER));
    if (path == NULL) {
        replay_error("out of memory");
        return -1;
    }

    sprintf(path, "%s/" REPLAY_DEAD_LETTER, dir);

    f = fopen(path, "re");
    free(path);

    if (f == NULL) {
        if (errno == ENOENT) {
            return 0;
        }

        replay_error(REPLAY_DEAD_LETTER ": %s", strerror(errno));
        return -1;
    }

    line = NULL;
    cap = 0;

    while ((len = getline(&line, &cap, f)) > 0) {
        root = json_loadb(line, len, 0, NULL);

        dest = "-";
        reason = "invalid";
        error[0] = '\0';

        if (json_is_object(root)) {
            v = json_object_get(root, "dest");
            if (json_is_string(v)) {
                dest = json_string_value(v);
            }

            v = json_object_get(root, "dead");
            if (json_is_string(v)) {
                reason = json_string_value(v);
            }

            v = json_object_get(root, "last_error");
            if (json_is_string(v)) {
                snprintf(error, sizeof(error), "%s", json_string_value(v));
            }
        }

        replay_list_count(&l->dead, dest, reason, error);

        json_decref(root);
    }

    free(line);
    fclose(f);

    return 0;
}


static int
replay_list_count(replay_list_groups_t *g, const char *dest,
    const char *reason, const char *error)
{
    size_t                i;
    replay_list_group_t  *more, key;

    memset(&key, 0, sizeof(key));
    snprintf(key.dest, sizeof(key.dest), "%s", dest);
    snprintf(key.reason, sizeof(key.reason), "%s", reason);
    snprintf(key.error, sizeof(key.error), "%s",
             g->n < REPLAY_LIST_GROUPS ? error : "(other)");

    for (i = 0; i < g->n; i++) {
        if (strcmp(g->group[i].dest, key.dest) == 0
            && strcmp(g->group[i].reason, key.reason) == 0
            && strcmp(g->group[i].error, key.error) == 0)
        {
            g->group[i].records++;
            return 0;
        }
    }

    if (g->n == g->nalloc) {
        g->nalloc = g->nalloc ? 2 * g->nalloc : 16;
        more = realloc(g->group, g->nalloc * sizeof(replay_list_group_t));
        if (more == NULL) {
            replay_error("out of memory");
            return -1;
        }
        g->group = more;
    }

    key.records = 1;
    g->group[g->n++] = key;

    return 0;
}


static void
replay_list_print(const replay_conf_t *conf, replay_list_t *l,
    long long now)
{
    int                  d;
    char                 when[32], oldest[32];
    time_t               t;
    struct tm            tm;
    replay_list_dest_t  *ld;

    t = (time_t) now;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    printf("# kochava-replay --list %s at %s\n", conf->spool, when);
    printf("%-6s %-16s %8s %8s %8s %8s %8s %8s %8s  %s\n", "# kind", "dest",
           "records", "due", "later", "<1h", "1h-24h", ">24h", "expired",
           "oldest");

    for (d = 0; d <= KOCHAVA_NDESTS; d++) {
        ld = &l->dest[d];

        printf("%-6s %-16s %8zu %8zu %8zu %8zu %8zu %8zu %8zu  %s\n",
               "dest", d < KOCHAVA_NDESTS ? replay_dest_label(d) : "all",
               ld->records, ld->due, ld->later, ld->age[0], ld->age[1],
               ld->age[2], ld->age[3],
               ld->oldest ? replay_list_age(now - ld->oldest, oldest,
                                            sizeof(oldest))
                          : "-");
    }

    printf("%-6s %-16s %8s  %s\n", "# kind", "dest", "records",
           "last_error");
    replay_list_print_groups("error", &l->errors, 0);

    printf("%-6s %-16s %8s  %-10s %s\n", "# kind", "dest", "records",
           "dead", "last_error");
    replay_list_print_groups("dead", &l->dead, 1);

    printf("%-6s %8s %10s %8s %8s %8s %10s\n", "# kind", "files", "bytes",
           "writing", "torn", "invalid", "unreadable");
    printf("%-6s %8zu %10zu %8zu %8zu %8zu %10zu\n", "files", l->files,
           l->bytes, l->writing, l->torn, l->invalid, l->unreadable);
}


static void
replay_list_print_groups(const char *kind, replay_list_groups_t *g,
    int reason)
{
    size_t                     i;
    const replay_list_group_t  *p;

    if (g->n > 1) {
        qsort(g->group, g->n, sizeof(replay_list_group_t), replay_list_cmp);
    }

    for (i = 0; i < g->n; i++) {
        p = &g->group[i];

        printf("%-6s %-16s %8zu  ", kind, p->dest, p->records);

        if (reason) {
            printf("%-10s ", p->reason);
        }

        replay_list_json(p->error);
        fputc('\n', stdout);
    }
}


/* "45s", "12m", "3h12m", "2d1h" */
static const char *
replay_list_age(long long secs, char *buf, size_t len)
{
    if (secs < 0) {
        secs = 0;
    }

    if (secs < 60) {
        snprintf(buf, len, "%llds", secs);

    } else if (secs < 3600) {
        snprintf(buf, len, "%lldm", secs / 60);

    } else if (secs < 86400) {
        snprintf(buf, len, "%lldh%lldm", secs / 3600, secs % 3600 / 60);

    } else {
        snprintf(buf, len, "%lldd%lldh", secs / 86400, secs % 86400 / 3600);
    }

    return buf;
}


/* a JSON string: one column however many blanks it holds */
static void
replay_list_json(const char *s)
{
    unsigned char  c;

    fputc('"', stdout);

    for ( ; *s != '\0'; s++) {
        c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            printf("\\%c", c);

        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);

        } else {
            fputc(c, stdout);
        }
    }

    fputc('"', stdout);
}


/* most records first, then by destination and error */
static int
replay_list_cmp(const void *a, const void *b)
{
    int                         rc;
    const replay_list_group_t  *x, *y;

    x = a;
    y = b;

    if (x->records != y->records) {
        return x->records > y->records ? -1 : 1;
    }

    rc = strcmp(x->dest, y->dest);

    return rc ? rc : strcmp(x->error, y->error);
}
