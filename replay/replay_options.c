
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The command line of kochava-replay, its --help page, and the Braze REST
 * API key file (read here, kept only in the Authorization header line,
 * never printed).
 */


#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "replay.h"


#ifndef REPLAY_VERSION
#define REPLAY_VERSION  "unknown"    /* the Makefile sets it */
#endif


static int replay_url(const char *opt, const char *url);
static int replay_number(const char *opt, const char *text, long min,
    long max, long *n);
static int replay_read_key(replay_conf_t *conf);
static void replay_help(void);
static void replay_version(void);


#define REPLAY_KEY_MAX  4096


static const char  replay_help_text[] =
"NAME\n"
"    kochava-replay - re-send the records of an ngx_kochava_module spool\n"
"\n"
"SYNOPSIS\n"
"    kochava-replay --spool DIR [--once] [--kochava-url URL]\n"
"                   [--identity-url URL] [--braze-url URL\n"
"                   --braze-key-file FILE] [--concurrency N]\n"
"                   [--max-age DURATION] [--timeout DURATION]\n"
"                   [--connect-timeout DURATION] [--interval DURATION]\n"
"                   [--backoff DURATION] [--max-backoff DURATION]\n"
"                   [--probe-interval DURATION] [--passes N]\n"
"                   [--once-wait DURATION] [--commit-every N]\n"
"    kochava-replay --spool DIR --list [--max-age DURATION]\n"
"    kochava-replay --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Reads the closed spool files (DIR/*.jsonl) that the nginx module\n"
"    wrote for outbound requests that failed retryably, and sends each\n"
"    record's body again, byte for byte, as a POST with Content-Type:\n"
"    application/json to the URL of its destination (\"kochava\",\n"
"    \"kochava_identity\" or \"braze\"), many at once (libcurl multi).\n"
"    Answers are judged as the module judges them.  Delivered records are\n"
"    removed; records that fail retryably stay with attempts + 1, their\n"
"    last_error and a not_before time (exponential back-off with jitter,\n"
"    at least the Retry-After of a 429 or 503); records that fail\n"
"    permanently, or are older than --max-age, are appended to\n"
"    DIR/dead-letter.jsonl.  A file is rewritten through a temporary file\n"
"    renamed over it, so a crash loses no record; a record can be sent\n"
"    again after a crash (at-least-once).  *.jsonl.part files (still\n"
"    being written) and dead-letter.jsonl are never read.  A torn line\n"
"    (a crash while it was written) is logged and skipped, never sent.\n"
"    DIR/.replay.lock (flock) keeps two replays off the same spool.\n"
"    It runs only as the owner of DIR (nginx's workers' user), so that\n"
"    what it writes stays readable to the next run.\n"
"\n"
"    Without --once it runs until SIGTERM or SIGINT, looking at DIR every\n"
"    --interval.  On a terminal it shows one progress line; otherwise it\n"
"    writes one time-stamped log line per event and per pass.\n"
"\n"
"OPTIONS\n"
"    --spool DIR          the spool directory (required)\n"
"    --kochava-url URL    events and installs\n"
"                         (https://control.kochava.com/track/json)\n"
"    --identity-url URL   IdentityLink (https://control.kochava.com/v1/\n"
"                         cpi/identityLink.php)\n"
"    --braze-url URL      the whole Braze /users/track URL, e.g.\n"
"                         https://rest.iad-01.braze.com/users/track;\n"
"                         unset, braze records are kept and not sent\n"
"    --braze-key-file FILE  the Braze REST API key (the file's first\n"
"                         line), sent as Authorization: Bearer; needed\n"
"                         with --braze-url; never printed or logged\n"
"    --once               drain what is there and exit (EXIT STATUS);\n"
"                         records that fail retryably are tried again in\n"
"                         up to --passes passes, sleeping until the next\n"
"                         one is due if that is at most --once-wait away\n"
"    --concurrency N      requests in flight at most (16)\n"
"    --max-age DURATION   records whose first_failed is older go to the\n"
"                         dead letter file unsent (72h; 0: no limit)\n"
"    --timeout DURATION   one request, connecting to the last byte (10s)\n"
"    --connect-timeout DURATION  connecting (5s)\n"
"    --interval DURATION  without --once: how often DIR is looked at\n"
"                         (10s, the module's default file interval)\n"
"    --backoff DURATION   the first back-off delay (1s); doubled after\n"
"                         each failure up to --max-backoff (10m), each\n"
"                         delay drawn between its half and itself\n"
"    --probe-interval DURATION  a destination that failed retryably is\n"
"                         held: one record is sent to it this often (at\n"
"                         least its Retry-After) until it answers (5s)\n"
"    --commit-every N     a file is rewritten after every N records sent\n"
"                         (1000): a crash re-sends at most N records\n"
"    --passes N           --once: passes at most (5)\n"
"    --once-wait DURATION --once: longest sleep before a pass (30s)\n"
"    --list               print what DIR holds and exit, changing\n"
"                         nothing: records by destination (due, later,\n"
"                         age since first_failed; \"expired\": older than\n"
"                         --max-age) and by last_error, dead letters by\n"
"                         destination, reason and last_error; any user\n"
"                         who can read DIR may run it\n"
"    -h, --help           this text\n"
"    --version            the version (debian/changelog's), and\n"
"                         libcurl's and jansson's\n"
"\n"
"    A DURATION is a number with a unit: ms, s, m, h or d (\"72h\");\n"
"    a bare number is seconds.\n"
"\n"
"EXIT STATUS\n"
"    0  nothing retryable left: every record read was delivered or\n"
"       dead-lettered (files closed meanwhile are left for the next run)\n"
"    1  records remain in the spool (an upstream is down, a record is\n"
"       not due yet, braze records without --braze-url), or the lock is\n"
"       held by another replay\n"
"    2  usage or configuration error, or not run as the owner of DIR\n"
"    3  a spool file could not be read or rewritten (the error names it)\n"
"\n"
"FILES\n"
"    DIR/*.jsonl          closed spool files, read and rewritten\n"
"    DIR/*.jsonl.part     files nginx is writing: never touched\n"
"    DIR/dead-letter.jsonl  permanent failures, appended; never replayed\n"
"    DIR/.replay.lock     the lock\n"
"    DIR/.replay-*.tmp    a rewrite in progress (removed if left over)\n"
"\n"
"EXAMPLES\n"
"    sudo -u www-data kochava-replay --spool /var/spool/nginx-kochava \\\n"
"        --once\n"
"\n"
"    sudo -u www-data kochava-replay --spool /var/spool/nginx-kochava \\\n"
"        --once \\\n"
"        --braze-url https://rest.iad-01.braze.com/users/track \\\n"
"        --braze-key-file /etc/nginx/braze.key --max-age 48h\n"
"\n"
"    See docs/replay.md and docs/examples/kochava-replay.{service,timer}.\n";


int
replay_options(int argc, char **argv, replay_conf_t *conf)
{
    int       c, idx;
    long      n;
    int64_t  *d;

    enum {
        OPT_SPOOL = 256, OPT_KOCHAVA, OPT_IDENTITY, OPT_BRAZE, OPT_KEY,
        OPT_ONCE, OPT_CONCURRENCY, OPT_MAX_AGE, OPT_TIMEOUT, OPT_CONNECT,
        OPT_INTERVAL, OPT_BACKOFF, OPT_MAX_BACKOFF, OPT_PASSES,
        OPT_ONCE_WAIT, OPT_PROBE_INTERVAL, OPT_COMMIT_EVERY, OPT_VERSION,
        OPT_LIST
    };

    static const struct option  options[] = {
        { "spool", required_argument, NULL, OPT_SPOOL },
        { "kochava-url", required_argument, NULL, OPT_KOCHAVA },
        { "identity-url", required_argument, NULL, OPT_IDENTITY },
        { "braze-url", required_argument, NULL, OPT_BRAZE },
        { "braze-key-file", required_argument, NULL, OPT_KEY },
        { "once", no_argument, NULL, OPT_ONCE },
        { "list", no_argument, NULL, OPT_LIST },
        { "concurrency", required_argument, NULL, OPT_CONCURRENCY },
        { "max-age", required_argument, NULL, OPT_MAX_AGE },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "connect-timeout", required_argument, NULL, OPT_CONNECT },
        { "interval", required_argument, NULL, OPT_INTERVAL },
        { "backoff", required_argument, NULL, OPT_BACKOFF },
        { "max-backoff", required_argument, NULL, OPT_MAX_BACKOFF },
        { "passes", required_argument, NULL, OPT_PASSES },
        { "once-wait", required_argument, NULL, OPT_ONCE_WAIT },
        { "probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL },
        { "commit-every", required_argument, NULL, OPT_COMMIT_EVERY },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 }
    };

    memset(conf, 0, sizeof(replay_conf_t));

    conf->url[KOCHAVA_DEST_KOCHAVA] = "https://control.kochava.com/track/json";
    conf->url[KOCHAVA_DEST_IDENTITY] =
        "https://control.kochava.com/v1/cpi/identityLink.php";
    conf->concurrency = 16;
    conf->passes = 5;
    conf->max_age_ms = 72 * 3600 * 1000LL;
    conf->timeout_ms = 10000;
    conf->connect_timeout_ms = 5000;
    conf->interval_ms = 10000;
    conf->backoff_ms = 1000;
    conf->max_backoff_ms = 600000;
    conf->once_wait_ms = 30000;
    conf->probe_interval_ms = 5000;
    conf->commit_every = 1000;

    opterr = 0;

    for ( ;; ) {
        idx = -1;
        c = getopt_long(argc, argv, "h", options, &idx);

        if (c == -1) {
            break;
        }

        d = NULL;

        switch (c) {

        case OPT_SPOOL:
            conf->spool = optarg;
            break;

        case OPT_KOCHAVA:
            conf->url[KOCHAVA_DEST_KOCHAVA] = optarg;
            break;

        case OPT_IDENTITY:
            conf->url[KOCHAVA_DEST_IDENTITY] = optarg;
            break;

        case OPT_BRAZE:
            conf->url[KOCHAVA_DEST_BRAZE] = optarg;
            break;

        case OPT_KEY:
            conf->braze_key_file = optarg;
            break;

        case OPT_ONCE:
            conf->once = 1;
            break;

        case OPT_LIST:
            conf->list = 1;
            break;

        case OPT_CONCURRENCY:
            if (replay_number("--concurrency", optarg, 1, 1024, &n) != 0) {
                return REPLAY_EXIT_USAGE;
            }
            conf->concurrency = n;
            break;

        case OPT_COMMIT_EVERY:
            if (replay_number("--commit-every", optarg, 1, 1000000000, &n)
                != 0)
            {
                return REPLAY_EXIT_USAGE;
            }
            conf->commit_every = n;
            break;

        case OPT_PASSES:
            if (replay_number("--passes", optarg, 1, 1000, &n) != 0) {
                return REPLAY_EXIT_USAGE;
            }
            conf->passes = n;
            break;

        case OPT_MAX_AGE:
            d = &conf->max_age_ms;
            break;

        case OPT_TIMEOUT:
            d = &conf->timeout_ms;
            break;

        case OPT_CONNECT:
            d = &conf->connect_timeout_ms;
            break;

        case OPT_INTERVAL:
            d = &conf->interval_ms;
            break;

        case OPT_BACKOFF:
            d = &conf->backoff_ms;
            break;

        case OPT_MAX_BACKOFF:
            d = &conf->max_backoff_ms;
            break;

        case OPT_ONCE_WAIT:
            d = &conf->once_wait_ms;
            break;

        case OPT_PROBE_INTERVAL:
            d = &conf->probe_interval_ms;
            break;

        case 'h':
            replay_help();
            return -1;

        case OPT_VERSION:
            replay_version();
            return -1;

        default:
            if (optopt >= OPT_SPOOL) {
                fprintf(stderr, "kochava-replay: %s needs a value\n",
                        argv[optind - 1]);

            } else {
                fprintf(stderr, "kochava-replay: unknown option %s\n",
                        argv[optind - 1]);
            }
            fprintf(stderr, "try: kochava-replay --help\n");
            return REPLAY_EXIT_USAGE;
        }

        /* the option's name, also when its value was a separate word */
        if (d != NULL && replay_duration(optarg, d) != 0) {
            fprintf(stderr, "kochava-replay: --%s: not a duration: "
                    "\"%s\"\n", options[idx].name, optarg);
            return REPLAY_EXIT_USAGE;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "kochava-replay: unexpected argument \"%s\"\n",
                argv[optind]);
        return REPLAY_EXIT_USAGE;
    }

    if (conf->spool == NULL || conf->spool[0] == '\0') {
        fprintf(stderr, "kochava-replay: --spool DIR is required\n"
                "try: kochava-replay --help\n");
        return REPLAY_EXIT_USAGE;
    }

    if (replay_url("--kochava-url", conf->url[KOCHAVA_DEST_KOCHAVA]) != 0
        || replay_url("--identity-url", conf->url[KOCHAVA_DEST_IDENTITY])
           != 0
        || (conf->url[KOCHAVA_DEST_BRAZE] != NULL
            && replay_url("--braze-url", conf->url[KOCHAVA_DEST_BRAZE])
               != 0))
    {
        return REPLAY_EXIT_USAGE;
    }

    if (conf->timeout_ms <= 0 || conf->connect_timeout_ms <= 0
        || conf->interval_ms <= 0 || conf->backoff_ms <= 0
        || conf->probe_interval_ms <= 0
        || conf->max_backoff_ms < conf->backoff_ms)
    {
        fprintf(stderr, "kochava-replay: --timeout, --connect-timeout, "
                "--interval, --backoff and --probe-interval must be "
                "positive, --max-backoff at least --backoff\n");
        return REPLAY_EXIT_USAGE;
    }

    if ((conf->url[KOCHAVA_DEST_BRAZE] == NULL)
        != (conf->braze_key_file == NULL))
    {
        fprintf(stderr, "kochava-replay: --braze-url and --braze-key-file "
                "go together\n");
        return REPLAY_EXIT_USAGE;
    }

    if (conf->braze_key_file != NULL && replay_read_key(conf) != 0) {
        return REPLAY_EXIT_USAGE;
    }

    return 0;
}


void
replay_options_free(replay_conf_t *conf)
{
    if (conf->auth_header != NULL) {
        explicit_bzero(conf->auth_header, strlen(conf->auth_header));
        free(conf->auth_header);
        conf->auth_header = NULL;
    }
}


/* "250ms", "10s", "5m", "72h", "2d"; a bare number is seconds */
int
replay_duration(const char *text, int64_t *ms)
{
    char       *end;
    long long   n, unit;

    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }

    errno = 0;
    n = strtoll(text, &end, 10);

    if (errno != 0 || n > 1000LL * 1000 * 1000) {
        return -1;
    }

    if (strcmp(end, "ms") == 0) {
        unit = 1;

    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        unit = 1000;

    } else if (strcmp(end, "m") == 0) {
        unit = 60 * 1000;

    } else if (strcmp(end, "h") == 0) {
        unit = 3600 * 1000;

    } else if (strcmp(end, "d") == 0) {
        unit = 86400 * 1000;

    } else {
        return -1;
    }

    *ms = n * unit;

    return 0;
}


static int
replay_url(const char *opt, const char *url)
{
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
    {
        return 0;
    }

    fprintf(stderr, "kochava-replay: %s: not an http:// or https:// URL\n",
            opt);

    return -1;
}


static int
replay_number(const char *opt, const char *text, long min, long max,
    long *n)
{
    char  *end;

    errno = 0;
    *n = strtol(text, &end, 10);

    if (errno != 0 || end == text || *end != '\0' || *n < min || *n > max) {
        fprintf(stderr, "kochava-replay: %s: a number from %ld to %ld\n",
                opt, min, max);
        return -1;
    }

    return 0;
}


/*
 * The key is the file's first line without surrounding blanks.  Error
 * messages name the file, never its content.
 */
static int
replay_read_key(replay_conf_t *conf)
{
    int          fd;
    char        *key, *end, *header;
    size_t       len;
    ssize_t      n;
    static char  buf[REPLAY_KEY_MAX + 1];

    fd = open(conf->braze_key_file, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        fprintf(stderr, "kochava-replay: --braze-key-file %s: %s\n",
                conf->braze_key_file, strerror(errno));
        return -1;
    }

    len = 0;

    while (len < REPLAY_KEY_MAX) {
        n = read(fd, buf + len, REPLAY_KEY_MAX - len);
        if (n <= 0) {
            break;
        }
        len += n;
    }

    close(fd);
    buf[len] = '\0';

    key = buf;
    while (*key == ' ' || *key == '\t' || *key == '\r' || *key == '\n') {
        key++;
    }

    end = key;
    while (*end != '\0' && *end != '\r' && *end != '\n') {
        end++;
    }

    while (end > key && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    len = end - key;
    header = NULL;

    if (len > 0 && memchr(key, '\0', len) == NULL) {
        header = malloc(sizeof("Authorization: Bearer ") + len);
    }

    if (header != NULL) {
        memcpy(header, "Authorization: Bearer ", 22);
        memcpy(header + 22, key, len);
        header[22 + len] = '\0';
    }

    explicit_bzero(buf, sizeof(buf));

    if (header == NULL) {
        fprintf(stderr, "kochava-replay: --braze-key-file %s: no key in "
                "its first line\n", conf->braze_key_file);
        return -1;
    }

    conf->auth_header = header;

    return 0;
}


static void
replay_help(void)
{
    fputs(replay_help_text, stdout);
}


static void
replay_version(void)
{
    curl_version_info_data  *curl;

    curl = curl_version_info(CURLVERSION_NOW);

    printf("kochava-replay " REPLAY_VERSION " (ngx_kochava_module; "
           "libcurl %s, jansson %s)\n", curl->version, jansson_version_str());
}
