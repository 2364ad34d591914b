
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * ISO-8601 date-times as Segment's libraries send them, to and from epoch
 * milliseconds.
 */


#include <stdio.h>

#include "kochava_internal.h"


static int kochava_digits(const char *s, size_t n, int *value);
static int64_t kochava_days_from_civil(int64_t y, int m, int d);


int64_t
kochava_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}


/*
 * YYYY-MM-DDTHH:MM[:SS[.f]] with 1 to 9 digits of fraction, and a zone of
 * Z, +HH:MM, +HHMM, +HH (or -), or none (UTC).  Returns 0 and the epoch
 * milliseconds (the fraction truncated), or -1.
 */

int
kochava_time_parse(const char *s, size_t len, int64_t *ms)
{
    int               year, month, day, hour, min, sec, frac, digits;
    int               zh, zm, sign;
    size_t            i;
    int64_t           days, t;
    static const int  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    if (len < 16
        || kochava_digits(s, 4, &year) != 0 || s[4] != '-'
        || kochava_digits(s + 5, 2, &month) != 0 || s[7] != '-'
        || kochava_digits(s + 8, 2, &day) != 0
        || (s[10] != 'T' && s[10] != 't')
        || kochava_digits(s + 11, 2, &hour) != 0 || s[13] != ':'
        || kochava_digits(s + 14, 2, &min) != 0)
    {
        return -1;
    }

    i = 16;
    sec = 0;
    frac = 0;

    if (i < len && s[i] == ':') {
        if (len < 19 || kochava_digits(s + 17, 2, &sec) != 0) {
            return -1;
        }

        i = 19;

        if (i < len && s[i] == '.') {
            i++;
            digits = 0;

            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (digits < 3) {
                    frac = frac * 10 + (s[i] - '0');
                }

                digits++;
                i++;
            }

            if (digits == 0 || digits > 9) {
                return -1;
            }

            for ( /* void */ ; digits < 3; digits++) {
                frac *= 10;
            }
        }
    }

    zh = 0;
    zm = 0;
    sign = 1;

    if (i < len) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
            i++;

        } else if (s[i] == '+' || s[i] == '-') {
            sign = (s[i] == '-') ? -1 : 1;

            if (len - i == 3) {
                if (kochava_digits(s + i + 1, 2, &zh) != 0) {
                    return -1;
                }

            } else if (len - i == 5) {
                if (kochava_digits(s + i + 1, 2, &zh) != 0
                    || kochava_digits(s + i + 3, 2, &zm) != 0)
                {
                    return -1;
                }

            } else if (len - i == 6 && s[i + 3] == ':') {
                if (kochava_digits(s + i + 1, 2, &zh) != 0
                    || kochava_digits(s + i + 4, 2, &zm) != 0)
                {
                    return -1;
                }

            } else {
                return -1;
            }

            i = len;

        } else {
            return -1;
        }
    }

    if (month < 1 || month > 12 || day < 1 || hour > 23 || min > 59
        || sec > 59 || zh > 23 || zm > 59)
    {
        return -1;
    }

    if (day > mdays[month - 1]
        && !(month == 2 && day == 29
             && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))))
    {
        return -1;
    }

    days = kochava_days_from_civil(year, month, day);

    t = ((days * 24 + hour) * 60 + min) * 60 + sec;
    t -= (int64_t) sign * (zh * 3600 + zm * 60);

    *ms = t * 1000 + frac;

    return 0;
}


/*
 * "2024-03-20T19:26:56Z", or "2024-03-20T19:26:56.120Z" when there are
 * milliseconds; buf has room for KOCHAVA_TIME_LEN bytes.
 */

size_t
kochava_time_format(int64_t ms, char *buf)
{
    int       n;
    int64_t   days, secs, z, era, doe, yoe, y, doy, mp, d, m, frac;

    days = kochava_floor_div(ms, 86400000);
    frac = ms - days * 86400000;
    secs = frac / 1000;
    frac %= 1000;

    /* Howard Hinnant's civil_from_days */

    z = days + 719468;
    era = kochava_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    if (frac) {
        n = snprintf(buf, KOCHAVA_TIME_LEN,
                     "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                     (long long) y, (long long) m, (long long) d,
                     (long long) (secs / 3600),
                     (long long) (secs / 60 % 60),
                     (long long) (secs % 60), (long long) frac);

    } else {
        n = snprintf(buf, KOCHAVA_TIME_LEN,
                     "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                     (long long) y, (long long) m, (long long) d,
                     (long long) (secs / 3600),
                     (long long) (secs / 60 % 60),
                     (long long) (secs % 60));
    }

    if (n < 0 || n >= KOCHAVA_TIME_LEN) {
        buf[0] = '\0';
        return 0;
    }

    return (size_t) n;
}


static int
kochava_digits(const char *s, size_t n, int *value)
{
    int     v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    *value = v;

    return 0;
}


/* Howard Hinnant's days_from_civil */

static int64_t
kochava_days_from_civil(int64_t y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = kochava_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}
