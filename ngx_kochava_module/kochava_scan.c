
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The pre-scan: one pass over the raw bytes of a body, aware of strings
 * and escapes, that measures what the limits need (nesting depth, compact
 * size, the elements of the top-level "batch" array) before the parser
 * allocates anything.  It does not validate: the parser does that next.
 */


#include <stdlib.h>
#include <string.h>

#include "kochava_internal.h"


typedef struct {
    kochava_scan_t           *scan;
    size_t                    max_items;
    size_t                    cap;
    size_t                    start;         /* compact size at its start */
    size_t                    max_depth;     /* deepest level inside it */
    unsigned                  open:1;
} kochava_scan_state_t;


static int kochava_scan_item_start(kochava_scan_state_t *st, size_t size,
    size_t depth);
static int kochava_scan_item_end(kochava_scan_state_t *st, size_t size);


int
kochava_scan(const char *p, size_t len, int batch, size_t max_items,
    size_t max_depth, kochava_scan_t *scan)
{
    size_t                 i, j, k, q, size, depth;
    unsigned               top_object, expect_key, in_batch, pending;
    const char            *qp;
    unsigned char          c;
    kochava_scan_state_t   st;

    memset(scan, 0, sizeof(kochava_scan_t));
    memset(&st, 0, sizeof(kochava_scan_state_t));

    st.scan = scan;
    st.max_items = max_items;

    size = 0;
    depth = 0;
    top_object = 0;
    expect_key = 0;
    in_batch = 0;
    pending = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) p[i];

        switch (c) {

        case ' ':
        case '\t':
        case '\n':
        case '\r':
            continue;

        case '"':
            if (in_batch && depth == 2 && !st.open) {
                if (kochava_scan_item_start(&st, size, depth) != 0) {
                    return -1;
                }

                if (scan->too_many) {
                    goto done;
                }
            }

            /*
             * The closing quote: the next '"' after an even run of
             * backslashes (an odd run escapes it); len when there is none.
             */

            for (j = i + 1; ; j = q + 1) {
                qp = memchr(p + j, '"', len - j);

                if (qp == NULL) {
                    j = len;
                    break;
                }

                q = (size_t) (qp - p);

                for (k = q; k > i + 1 && p[k - 1] == '\\'; k--) {
                    /* void */
                }

                if ((q - k) % 2 == 0) {
                    j = q;
                    break;
                }
            }

            if (batch && depth == 1 && top_object && expect_key) {
                pending = (j < len && j - i - 1 == 5
                           && memcmp(p + i + 1, "batch", 5) == 0);
                expect_key = 0;
            }

            size += (j < len ? j + 1 : len) - i;
            i = j;
            continue;

        case '{':
        case '[':
            if (in_batch && depth == 2 && !st.open) {
                if (kochava_scan_item_start(&st, size, depth) != 0) {
                    return -1;
                }

                if (scan->too_many) {
                    goto done;
                }
            }

            depth++;
            size++;

            if (depth > scan->depth) {
                scan->depth = depth;

                if (depth > max_depth) {
                    scan->too_deep = 1;
                    goto done;
                }
            }

            if (depth == 1) {
                top_object = (c == '{');
                expect_key = top_object;

            } else if (depth == 2 && pending == 2) {
                if (c == '[') {
                    in_batch = 1;
                    scan->batch_found = 1;
                }

                pending = 0;
            }

            if (st.open && depth > st.max_depth) {
                st.max_depth = depth;
            }

            if (!in_batch && depth > scan->outer_depth) {
                scan->outer_depth = depth;
            }

            continue;

        case '}':
        case ']':
            if (in_batch && depth == 2) {
                if (st.open && kochava_scan_item_end(&st, size) != 0) {
                    return -1;
                }

                in_batch = 0;
            }

            if (depth) {
                depth--;
            }

            size++;
            continue;

        case ',':
            if (depth == 1) {
                expect_key = top_object;
                pending = 0;

            } else if (in_batch && depth == 2 && st.open) {
                if (kochava_scan_item_end(&st, size) != 0) {
                    return -1;
                }
            }

            size++;
            continue;

        case ':':
            if (depth == 1 && pending == 1) {
                pending = 2;
            }

            size++;
            continue;

        default:
            if (in_batch && depth == 2 && !st.open) {
                if (kochava_scan_item_start(&st, size, depth) != 0) {
                    return -1;
                }

                if (scan->too_many) {
                    goto done;
                }
            }

            if (depth == 1) {
                pending = 0;
            }

            size++;
            continue;
        }
    }

    if (st.open && kochava_scan_item_end(&st, size) != 0) {
        return -1;
    }

done:

    scan->size = size;

    return 0;
}


static int
kochava_scan_item_start(kochava_scan_state_t *st, size_t size, size_t depth)
{
    size_t                n;
    kochava_scan_t       *scan;
    kochava_scan_item_t  *items;

    scan = st->scan;

    if (scan->nitems >= st->max_items) {
        scan->too_many = 1;
        return 0;
    }

    if (scan->nitems == st->cap) {
        n = st->cap ? st->cap * 2 : 64;

        if (n > st->max_items) {
            n = st->max_items;
        }

        items = realloc(scan->items, n * sizeof(kochava_scan_item_t));
        if (items == NULL) {
            return -1;
        }

        scan->items = items;
        st->cap = n;
    }

    st->open = 1;
    st->start = size;
    st->max_depth = depth;

    return 0;
}


static int
kochava_scan_item_end(kochava_scan_state_t *st, size_t size)
{
    kochava_scan_item_t  *item;

    item = &st->scan->items[st->scan->nitems++];

    item->size = size - st->start;
    item->depth = st->max_depth - 2;

    st->open = 0;

    return 0;
}


void
kochava_scan_free(kochava_scan_t *scan)
{
    free(scan->items);
    scan->items = NULL;
    scan->nitems = 0;
}

