
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Exponential back-off with jitter, and time.  The n-th consecutive
 * failure waits a delay drawn uniformly between d/2 and d, where
 * d = --backoff * 2^(n-1), at most --max-backoff.  It is used for a
 * record (n: its failed replays) and for a destination (n: its failures in
 * a row; while it is held nothing is sent to it).  A Retry-After is a
 * floor for both.
 */


#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"


static uint64_t  replay_rand_state = 0x2545f4914f6cdd1dULL;


void
replay_backoff_seed(void)
{
    int       fd;
    uint64_t  seed;

    seed = (uint64_t) replay_now_ms() ^ ((uint64_t) getpid() << 32);

    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd != -1) {
        if (read(fd, &seed, sizeof(seed)) != sizeof(seed)) {
            seed ^= 0x9e3779b97f4a7c15ULL;
        }
        close(fd);
    }

    replay_rand_state = seed ? seed : 1;
}


/* xorshift64*: jitter needs no more */
static uint64_t
replay_rand(void)
{
    replay_rand_state ^= replay_rand_state >> 12;
    replay_rand_state ^= replay_rand_state << 25;
    replay_rand_state ^= replay_rand_state >> 27;

    return replay_rand_state * 0x2545f4914f6cdd1dULL;
}


int64_t
replay_backoff(const replay_conf_t *conf, unsigned failures)
{
    int64_t  d;

    d = conf->backoff_ms;

    while (failures > 1 && d < conf->max_backoff_ms) {
        d *= 2;
        failures--;
    }

    if (d > conf->max_backoff_ms) {
        d = conf->max_backoff_ms;
    }

    return d - d / 2 + (int64_t) (replay_rand() % (uint64_t) (d / 2 + 1));
}


/* a retryable failure of a destination: hold it for a while */
void
replay_hold_failed(const replay_conf_t *conf, replay_hold_t *hold,
    int64_t now_ms, int64_t retry_after_ms)
{
    int64_t  until;

    hold->failures++;

    until = now_ms + replay_backoff(conf, hold->failures);

    if (until < now_ms + retry_after_ms) {
        until = now_ms + retry_after_ms;
    }

    if (hold->until_ms < until) {
        hold->until_ms = until;
    }
}


int64_t
replay_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* sleeps, in small steps so that SIGTERM ends it soon */
void
replay_sleep_ms(int64_t ms)
{
    int64_t          step;
    struct timespec  ts;

    while (ms > 0 && !replay_stop) {
        step = ms < 200 ? ms : 200;
        ts.tv_sec = 0;
        ts.tv_nsec = step * 1000000;
        nanosleep(&ts, NULL);
        ms -= step;
    }
}
