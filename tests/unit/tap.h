
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A tiny TAP emitter for the unit tests (run by prove).
 */


#ifndef _KOCHAVA_TAP_H_INCLUDED_
#define _KOCHAVA_TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;
static int  tap_planned;


static inline void
plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}


static inline void
diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


static inline int
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    tap_count++;

    if (!cond) {
        tap_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);

    return cond;
}


static inline int
is_str(const char *got, const char *expected, const char *name)
{
    int  cond;

    cond = (got != NULL && expected != NULL && strcmp(got, expected) == 0)
           || (got == NULL && expected == NULL);

    if (!ok(cond, "%s", name)) {
        diag("     got: '%s'", got ? got : "(null)");
        diag("expected: '%s'", expected ? expected : "(null)");
    }

    return cond;
}


static inline int
is_int(long long got, long long expected, const char *name)
{
    if (!ok(got == expected, "%s", name)) {
        diag("     got: %lld", got);
        diag("expected: %lld", expected);
        return 0;
    }

    return 1;
}


static inline int
like(const char *got, const char *needle, const char *name)
{
    if (!ok(got != NULL && strstr(got, needle) != NULL, "%s", name)) {
        diag("     got: '%s'", got ? got : "(null)");
        diag("expected to contain: '%s'", needle);
        return 0;
    }

    return 1;
}


static inline int
done_testing(void)
{
    if (!tap_planned) {
        printf("1..%d\n", tap_count);

    } else if (tap_planned != tap_count) {
        diag("planned %d tests but ran %d", tap_planned, tap_count);
        return 1;
    }

    return tap_failed ? 1 : 0;
}


#endif /* _KOCHAVA_TAP_H_INCLUDED_ */
