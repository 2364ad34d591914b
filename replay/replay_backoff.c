
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Exponential back-off with jitter for records, the holds of
 * destinations, and time.  The n-th failure of a record waits a delay
 * drawn uniformly between d/2 and d, where d = --backoff * 2^(n-1), at
 * most --max-backoff.  A destination that failed is held: probed with one
 * record every --probe-interval until an answer that is not retryable
 * (replay.h).  A Retry-After is a floor for both.
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


/*
 * The hold of a destination as a record of it is about to be started:
 * not held, sent; held and due, this record is the probe; held with the
 * probe in flight, it waits for the probe's answer; held, deferred.
 */
replay_hold_e
replay_hold_check(replay_hold_t *hold, int64_t now_ms)
{
    if (!hold->held) {
        return REPLAY_HOLD_SEND;
    }

    if (hold->probing) {
        return REPLAY_HOLD_WAIT;
    }

    if (now_ms < hold->until_ms) {
        return REPLAY_HOLD_DEFER;
    }

    hold->probing = 1;

    return REPLAY_HOLD_PROBE;
}


/*
 * A retryable failure: the destination is held for --probe-interval, at
 * least the Retry-After.  Failures in a row do not lengthen it: the
 * records have their own back-off, and the hold must end soon after the
 * upstream is back.
 */
void
replay_hold_failed(const replay_conf_t *conf, replay_hold_t *hold,
    kochava_dest_e dest, const char *error, int64_t now_ms,
    int64_t retry_after_ms)
{
    int64_t  until;

    if (!hold->held) {
        replay_log("%s failed (%s)%s: held, probed with one record every "
                   "%lld ms", replay_dest_label(dest), error,
                   retry_after_ms ? ", with a Retry-After" : "",
                   (long long) conf->probe_interval_ms);
    }

    hold->held = 1;
    hold->probing = 0;
    hold->failures++;

    until = now_ms + conf->probe_interval_ms;

    if (until < now_ms + retry_after_ms) {
        until = now_ms + retry_after_ms;
    }

    if (hold->until_ms < until) {
        hold->until_ms = until;
    }
}


/* an answer that is not retryable: the upstream is back */
void
replay_hold_answered(replay_hold_t *hold, kochava_dest_e dest)
{
    if (hold->held) {
        replay_log("%s answered again after %u failure(s) in a row: "
                   "hold ended", replay_dest_label(dest), hold->failures);
    }

    hold->held = 0;
    hold->probing = 0;
    hold->failures = 0;
    hold->until_ms = 0;
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
