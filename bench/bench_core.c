/*
 * The core alone, no nginx: messages per second on one core for
 * kochava_doc_parse() + kochava_doc_process() with an arena allocator
 * (reset between requests, as nginx frees a request's pool), next to
 * jansson's own json_loadb() + json_dumps() of the same bytes.
 *
 *   bench_core [-t seconds] [-r rounds] file...
 *
 * A file named batch-*.json is sent as /v1/batch, any other as /v1/track.
 * Rounds alternate core and jansson over every file; the medians are
 * printed as a markdown table.  Time is the thread's CPU time.
 *
 * Run under LD_PRELOAD=malloc_count.so, it also prints the bytes requested
 * from malloc per message (and what the core took from the arena).
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kochava_core.h"


#define MAX_FILES   8
#define MAX_ROUNDS  15
#define BLOCK_SIZE  (64 * 1024)


/* an arena: blocks kept and reused across resets, as an nginx pool */

typedef struct block_s  block_t;

struct block_s {
    block_t        *next;
    size_t          size;
    size_t          used;
};

typedef struct {
    block_t        *blocks;      /* reusable, BLOCK_SIZE each */
    block_t        *current;
    block_t        *large;       /* larger than a block: freed on reset */
    uint64_t        requested;   /* bytes asked for, ever */
} arena_t;


static void *
arena_alloc(void *data, size_t size)
{
    arena_t  *a = data;
    block_t  *b;
    size_t    need;

    a->requested += size;
    need = (size + 15) & ~(size_t) 15;

    if (need > BLOCK_SIZE / 4) {
        b = malloc(sizeof(block_t) + 16 + need);
        if (b == NULL) {
            return NULL;
        }
        b->next = a->large;
        a->large = b;
        return (char *) b + 32;
    }

    b = a->current;

    while (b != NULL && b->used + need > b->size) {
        b = b->next;
    }

    if (b == NULL) {
        b = malloc(sizeof(block_t) + 16 + BLOCK_SIZE);
        if (b == NULL) {
            return NULL;
        }
        b->size = BLOCK_SIZE;
        b->used = 0;
        b->next = NULL;

        if (a->current == NULL) {
            a->blocks = b;
        } else {
            /* append after the current one */
            b->next = a->current->next;
            a->current->next = b;
        }
    }

    a->current = b;
    b->used += need;

    return (char *) b + 32 + b->used - need;
}


static void
arena_reset(arena_t *a)
{
    block_t  *b, *next;

    for (b = a->large; b != NULL; b = next) {
        next = b->next;
        free(b);
    }

    a->large = NULL;

    for (b = a->blocks; b != NULL; b = b->next) {
        b->used = 0;
    }

    a->current = a->blocks;
}


typedef struct {
    const char     *name;
    char           *body;
    size_t          len;
    kochava_call_e  call;
    uint32_t        messages;
    double          core[MAX_ROUNDS];     /* messages/s */
    double          jansson[MAX_ROUNDS];
    double          core_bytes;           /* malloc bytes per message */
    double          core_calls;
    double          core_arena;           /* arena bytes per message */
    double          jansson_bytes;
    double          jansson_calls;
} input_t;


static kochava_conf_t  conf;
static kochava_req_t   req;
static arena_t         arena;
static kochava_allocator_t  allocator = { arena_alloc, &arena };

static void (*malloc_count_read)(uint64_t *calls, uint64_t *bytes);


static double
cpu_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
run_core(input_t *in, int check)
{
    char               err[256];
    kochava_doc_t     *doc;
    kochava_result_t   res;
    int                rc;

    req.call = in->call;

    rc = kochava_doc_parse(&conf, in->call, in->body, in->len, &doc, err,
                           sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s: parse: %d %s\n", in->name, rc, err);
        return -1;
    }

    memset(&res, 0, sizeof(res));

    if (kochava_doc_process(&conf, &req, doc, &allocator, &res) != 0) {
        fprintf(stderr, "%s: process: allocation failure\n", in->name);
        kochava_doc_free(doc);
        return -1;
    }

    if (check) {
        if (res.rejected != 0 || res.accepted != res.messages
            || res.nouts != res.messages)
        {
            fprintf(stderr, "%s: %u messages, %u accepted, %u rejected, "
                    "%u outs: %s\n", in->name, res.messages, res.accepted,
                    res.rejected, res.nouts,
                    res.rejected ? res.rejects[0].error : "");
            kochava_doc_free(doc);
            return -1;
        }

        in->messages = res.messages;
    }

    kochava_doc_free(doc);
    arena_reset(&arena);

    return 0;
}


static int
run_jansson(input_t *in)
{
    char          *out;
    json_t        *root;
    json_error_t   error;

    root = json_loadb(in->body, in->len, 0, &error);
    if (root == NULL) {
        fprintf(stderr, "%s: json_loadb: %s\n", in->name, error.text);
        return -1;
    }

    out = json_dumps(root, JSON_COMPACT);
    if (out == NULL) {
        json_decref(root);
        return -1;
    }

    free(out);
    json_decref(root);

    return 0;
}


/* messages per CPU second, running for at least seconds */
static double
measure(input_t *in, int jansson, double seconds)
{
    long    n, batch;
    double  start, elapsed;

    n = 0;
    batch = in->messages >= 100 ? 1 : 10;
    start = cpu_now();

    do {
        for (long i = 0; i < batch; i++) {
            if ((jansson ? run_jansson(in) : run_core(in, 0)) != 0) {
                exit(1);
            }
        }

        n += batch;
        elapsed = cpu_now() - start;

    } while (elapsed < seconds);

    return n * (double) in->messages / elapsed;
}


static void
measure_bytes(input_t *in)
{
    int       i, n;
    uint64_t  c0, b0, c1, b1, arena0;

    n = in->messages >= 1000 ? 5 : 50;

    arena0 = arena.requested;
    malloc_count_read(&c0, &b0);

    for (i = 0; i < n; i++) {
        if (run_core(in, 0) != 0) {
            exit(1);
        }
    }

    malloc_count_read(&c1, &b1);
    in->core_bytes = (double) (b1 - b0) / n / in->messages;
    in->core_calls = (double) (c1 - c0) / n / in->messages;
    in->core_arena = (double) (arena.requested - arena0) / n / in->messages;

    malloc_count_read(&c0, &b0);

    for (i = 0; i < n; i++) {
        if (run_jansson(in) != 0) {
            exit(1);
        }
    }

    malloc_count_read(&c1, &b1);
    in->jansson_bytes = (double) (b1 - b0) / n / in->messages;
    in->jansson_calls = (double) (c1 - c0) / n / in->messages;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
median(const double *v, int n)
{
    double  s[MAX_ROUNDS];

    memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);

    return (n % 2) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}


static char *
read_file(const char *name, size_t *len)
{
    FILE  *f;
    char  *p;
    long   size;

    f = fopen(name, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
        perror(name);
        exit(1);
    }

    rewind(f);

    p = malloc(size + 1);
    if (p == NULL || fread(p, 1, size, f) != (size_t) size) {
        perror(name);
        exit(1);
    }

    fclose(f);
    p[size] = '\0';
    *len = size;

    return p;
}


int
main(int argc, char **argv)
{
    int          i, r, opt, rounds, ninputs;
    double       seconds, c, j;
    input_t      inputs[MAX_FILES], *in;
    const char  *base;

    seconds = 1.0;
    rounds = 3;

    while ((opt = getopt(argc, argv, "t:r:")) != -1) {
        switch (opt) {
        case 't':
            seconds = atof(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }

    ninputs = argc - optind;

    if (ninputs < 1 || ninputs > MAX_FILES || rounds < 1
        || rounds > MAX_ROUNDS || seconds <= 0)
    {
        goto usage;
    }

    conf.max_message_size = 32768;
    conf.max_batch = 2500;
    conf.max_depth = 64;
    conf.identify_traits = 1;

    req.app_id = "kobench-app-guid";
    req.app_id_len = sizeof("kobench-app-guid") - 1;
    req.client_ip = "127.0.0.1";
    req.client_ip_len = sizeof("127.0.0.1") - 1;
    req.received_ms = 1710962817000;

    kochava_seed(42);

    memset(inputs, 0, sizeof(inputs));

    for (i = 0; i < ninputs; i++) {
        in = &inputs[i];
        in->name = argv[optind + i];
        in->body = read_file(in->name, &in->len);
        base = strrchr(in->name, '/');
        base = base ? base + 1 : in->name;
        in->call = strncmp(base, "batch", 5) == 0 ? KOCHAVA_CALL_BATCH
                                                  : KOCHAVA_CALL_TRACK;
        if (run_core(in, 1) != 0) {
            return 1;
        }

        /* warm-up */
        measure(in, 0, seconds / 4);
        measure(in, 1, seconds / 4);
    }

    for (r = 0; r < rounds; r++) {
        for (i = 0; i < ninputs; i++) {
            inputs[i].core[r] = measure(&inputs[i], 0, seconds);
            inputs[i].jansson[r] = measure(&inputs[i], 1, seconds);
        }
    }

    *(void **) &malloc_count_read = dlsym(RTLD_DEFAULT, "malloc_count_read");

    printf("| input | bytes | messages | core msg/s | jansson load+dump "
           "msg/s | core / jansson | core rounds | jansson rounds |\n"
           "|---|---:|---:|---:|---:|---:|---|---|\n");

    for (i = 0; i < ninputs; i++) {
        in = &inputs[i];
        c = median(in->core, rounds);
        j = median(in->jansson, rounds);

        printf("| %s | %zu | %u | %.0f | %.0f | %.2f | ",
               strrchr(in->name, '/') ? strrchr(in->name, '/') + 1
                                      : in->name,
               in->len, in->messages, c, j, c / j);

        for (r = 0; r < rounds; r++) {
            printf("%s%.0f", r ? " " : "", in->core[r]);
        }

        printf(" | ");

        for (r = 0; r < rounds; r++) {
            printf("%s%.0f", r ? " " : "", in->jansson[r]);
        }

        printf(" |\n");
    }

    if (malloc_count_read == NULL) {
        printf("\n(bytes per message: run under "
               "LD_PRELOAD=build/bench/malloc_count.so)\n");
        return 0;
    }

    printf("\n| input | core malloc bytes/msg | core mallocs/msg "
           "| core arena bytes/msg | jansson malloc bytes/msg "
           "| jansson mallocs/msg |\n|---|---:|---:|---:|---:|---:|\n");

    for (i = 0; i < ninputs; i++) {
        in = &inputs[i];
        measure_bytes(in);

        printf("| %s | %.0f | %.1f | %.0f | %.0f | %.1f |\n",
               strrchr(in->name, '/') ? strrchr(in->name, '/') + 1
                                      : in->name,
               in->core_bytes, in->core_calls, in->core_arena,
               in->jansson_bytes, in->jansson_calls);
    }

    return 0;

usage:

    fprintf(stderr, "usage: %s [-t seconds] [-r rounds] file...\n", argv[0]);
    return 2;
}
