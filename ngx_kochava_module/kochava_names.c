
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Segment spec event names -> Kochava standard event names (kochava.md).
 */


#include "kochava_internal.h"


#define kochava_name(s, k)  { s, sizeof(s) - 1, k, sizeof(k) - 1 }


static const kochava_name_t  kochava_default_names[] = {
    kochava_name("Product Added", "Add to Cart"),
    kochava_name("Product Added to Wishlist", "Add to Wish List"),
    kochava_name("Checkout Started", "Checkout Start"),
    kochava_name("Order Completed", "Purchase"),
    kochava_name("Product Reviewed", "Rating"),
    kochava_name("Products Searched", "Search"),
    kochava_name("Product Viewed", "View"),
    kochava_name("Signed Up", "Registration Complete"),
    kochava_name("Trial Started", "Start Trial"),
    kochava_name("Subscription Started", "Subscribe"),
    kochava_name("Deep Link Opened", "_Deeplink"),
    kochava_name("Push Notification Received", "Push Received"),
    kochava_name("Push Notification Tapped", "Push Opened")
};




/*
 * Looks the name up (ASCII case-insensitively) in the rows of the
 * configuration first, then in the default table.  Returns 1 and the
 * Kochava name, or 0 when the name is in neither.
 */

int
kochava_name_lookup(const kochava_conf_t *conf, const char *name,
    size_t len, kochava_str_t *out)
{
    size_t                 i, n;
    const kochava_name_t  *row;

    if (conf != NULL) {
        for (i = 0; i < conf->nnames; i++) {
            row = &conf->names[i];

            if (row->segment_len == len
                && kochava_strncaseeq(row->segment, name, len))
            {
                out->data = row->kochava;
                out->len = row->kochava_len;
                return 1;
            }
        }
    }

    n = sizeof(kochava_default_names) / sizeof(kochava_name_t);

    for (i = 0; i < n; i++) {
        row = &kochava_default_names[i];

        if (row->segment_len == len
            && kochava_strncaseeq(row->segment, name, len))
        {
            out->data = row->kochava;
            out->len = row->kochava_len;
            return 1;
        }
    }

    return 0;
}
