
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * ISO-8601 parsing and formatting.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


static void
test_parse(const char *s, long long expected)
{
    int64_t  ms;

    ms = 0;

    if (kochava_time_parse(s, strlen(s), &ms) != 0) {
        ok(0, "parses %s", s);
        return;
    }

    is_int(ms, expected, s);
}


static void
test_reject(const char *s)
{
    int64_t  ms;

    ok(kochava_time_parse(s, strlen(s), &ms) != 0, "rejects '%s'", s);
}


static void
test_format(long long ms, const char *expected)
{
    char  buf[KOCHAVA_TIME_LEN];

    kochava_time_format(ms, buf);
    is_str(buf, expected, expected);
}


int
main(void)
{
    int64_t  ms;
    char     buf[KOCHAVA_TIME_LEN];

    test_parse("2024-03-20T19:26:56Z", 1710962816000LL);
    test_parse("2024-03-20t19:26:56z", 1710962816000LL);
    test_parse("2024-03-20T19:26:56", 1710962816000LL);
    test_parse("2024-03-20T19:26", 1710962760000LL);
    test_parse("2024-03-20T19:26Z", 1710962760000LL);
    test_parse("2024-03-20T19:26:56.1Z", 1710962816100LL);
    test_parse("2024-03-20T19:26:56.12Z", 1710962816120LL);
    test_parse("2024-03-20T19:26:56.123Z", 1710962816123LL);
    test_parse("2024-03-20T19:26:56.123456Z", 1710962816123LL);
    test_parse("2024-03-20T19:26:56.123456789Z", 1710962816123LL);
    test_parse("2024-03-20T19:26:56.999+00:00", 1710962816999LL);
    test_parse("2024-03-21T00:56:56.000+05:30", 1710962816000LL);
    test_parse("2024-03-21T00:56:56+0530", 1710962816000LL);
    test_parse("2024-03-20T21:26:56+02", 1710962816000LL);
    test_parse("2024-03-20T14:26:56-05:00", 1710962816000LL);
    test_parse("1970-01-01T00:00:00Z", 0);
    test_parse("1969-12-31T23:59:59.5Z", -500);
    test_parse("2024-02-29T00:00:00Z", 1709164800000LL);
    test_parse("2000-02-29T00:00:00Z", 951782400000LL);
    test_parse("0001-01-01T00:00:00Z", -62135596800000LL);
    test_parse("9999-12-31T23:59:59Z", 253402300799000LL);

    test_reject("");
    test_reject("yesterday");
    test_reject("2015-2-02T00:30:08.276Z");
    test_reject("2024-13-01T00:00:00Z");
    test_reject("2024-00-01T00:00:00Z");
    test_reject("2024-02-30T00:00:00Z");
    test_reject("2023-02-29T00:00:00Z");
    test_reject("1900-02-29T00:00:00Z");
    test_reject("2024-04-31T00:00:00Z");
    test_reject("2024-03-20T24:00:00Z");
    test_reject("2024-03-20T19:60:00Z");
    test_reject("2024-03-20T19:26:60Z");
    test_reject("2024-03-20 19:26:56Z");
    test_reject("2024-03-20");
    test_reject("2024-03-20T19");
    test_reject("2024-03-20T19:26:5");
    test_reject("2024-03-20T19:26:56.");
    test_reject("2024-03-20T19:26:56.1234567890Z");
    test_reject("2024-03-20T19:26:56,123Z");
    test_reject("2024-03-20T19:26:56ZZ");
    test_reject("2024-03-20T19:26:56+5");
    test_reject("2024-03-20T19:26:56+05:3");
    test_reject("2024-03-20T19:26:56+0530x");
    test_reject("2024-03-20T19:26:56+24:00");
    test_reject("2024-03-20T19:26:56+05:60");
    test_reject("2024-03-20T19:26:56 ");
    test_reject("+2024-03-20T19:26:56Z");
    test_reject("20240320T192656Z");

    ok(kochava_time_parse("2024-03-20T19:26:56Zjunk", 20, &ms) == 0
       && ms == 1710962816000LL, "reads only len bytes");

    test_format(1710962816000LL, "2024-03-20T19:26:56Z");
    test_format(1710962816120LL, "2024-03-20T19:26:56.120Z");
    test_format(1710962816001LL, "2024-03-20T19:26:56.001Z");
    test_format(0, "1970-01-01T00:00:00Z");
    test_format(-500, "1969-12-31T23:59:59.500Z");
    test_format(951782400000LL, "2000-02-29T00:00:00Z");
    test_format(253402300799999LL, "9999-12-31T23:59:59.999Z");

    kochava_time_format(1893456000000LL, buf);
    ok(kochava_time_parse(buf, strlen(buf), &ms) == 0
       && ms == 1893456000000LL, "format and parse round-trip");

    is_int(kochava_floor_div(-1, 1000), -1, "floor of -1 ms is -1 s");
    is_int(kochava_floor_div(-1000, 1000), -1, "floor of -1000 ms");
    is_int(kochava_floor_div(1999, 1000), 1, "floor of 1999 ms");

    return done_testing();
}
