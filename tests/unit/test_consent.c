
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Google's DMA consent (kochava.md, "Consent"): data.gdpr_privacy_consent
 * from context.consent and the request's gdpr_applies.
 */


#include "test_helpers.h"


#define MSG(type, consent)                                                    \
    "{\"userId\":\"u\",\"event\":\"" type "\",\"context\":{\"device\":{"       \
    "\"id\":\"d\",\"advertisingId\":\"a\",\"type\":\"android\"}" consent "}}"

#define PREFS(prefs)                                                          \
    ",\"consent\":{\"categoryPreferences\":" prefs "}"


static test_run_t  run;


/* the consent object of the only Kochava body, compared as JSON */

static void
test_consent(const kochava_conf_t *conf, kochava_gdpr_e gdpr,
    kochava_call_e call, const char *body, const char *expected,
    const char *name)
{
    char           *dump;
    json_t         *outs, *data, *value, *want;
    kochava_req_t   req;

    test_req(&req, call);
    req.gdpr_applies = gdpr;

    test_process(conf, &req, body, strlen(body), &run);

    outs = test_outs(&run, KOCHAVA_DEST_KOCHAVA);
    data = json_object_get(json_array_get(outs, 0), "data");
    value = json_object_get(data, "gdpr_privacy_consent");
    want = expected ? json_loads(expected, 0, NULL) : NULL;

    if (!ok(json_array_size(outs) == 1
            && ((want == NULL && value == NULL)
                || (want && value && json_equal(value, want))),
            "%s", name))
    {
        dump = value ? json_dumps(value, 0) : NULL;
        diag("got %s, expected %s (%s)", dump ? dump : "(none)",
             expected ? expected : "(none)",
             test_error(&run) ? test_error(&run) : "accepted");
        free(dump);
    }

    json_decref(want);
    json_decref(outs);
    test_run_free(&run);
}


int
main(void)
{
    kochava_conf_t  plain, mapped;

    test_conf(&plain);

    test_conf(&mapped);
    mapped.consent_ad_user_data = "Advertising";
    mapped.consent_ad_user_data_len = sizeof("Advertising") - 1;
    mapped.consent_ad_personalization = "C0004";
    mapped.consent_ad_personalization_len = sizeof("C0004") - 1;

    /* nothing known: no object at all */

    test_consent(&plain, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", ""), NULL, "no consent anywhere: left out");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", PREFS("{\"Analytics\":true}")), NULL,
                 "other categories only: left out (no {})");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", ",\"consent\":{\"tcString\":\"\"}"), NULL,
                 "an empty tcString: left out");

    /* the categories the configuration names, as 1 and 0 */

    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", PREFS("{\"Advertising\":true,\"C0004\":false,"
                                "\"Analytics\":true}")),
                 "{\"ad_user_data\":1,\"ad_personalization\":0}",
                 "categoryPreferences: both flags");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", PREFS("{\"Advertising\":false,\"C0004\":\"yes\"}")),
                 "{\"ad_user_data\":0}",
                 "a category that is not a boolean is left out");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", PREFS("{\"advertising\":true}")), NULL,
                 "category names are case-sensitive, as Segment's are");
    test_consent(&plain, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", PREFS("{\"Advertising\":true,\"C0004\":true}")),
                 NULL, "without the directive no flag is sent");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", ",\"consent\":{\"categoryPreferences\":[true]}"),
                 NULL, "categoryPreferences not an object: ignored");

    /* tcString, gdpr_applies */

    test_consent(&plain, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_TRACK,
                 MSG("E", ",\"consent\":{\"tcString\":\"CPXxRfAPXxRfAAfKABENB\"}"),
                 "{\"tc_string\":\"CPXxRfAPXxRfAAfKABENB\"}",
                 "tcString alone, without the directive");
    test_consent(&plain, KOCHAVA_GDPR_YES, KOCHAVA_CALL_TRACK,
                 MSG("E", ""), "{\"gdpr_applies\":1}", "gdpr_applies 1");
    test_consent(&plain, KOCHAVA_GDPR_NO, KOCHAVA_CALL_TRACK,
                 MSG("E", ""), "{\"gdpr_applies\":0}", "gdpr_applies 0");
    test_consent(&mapped, KOCHAVA_GDPR_YES, KOCHAVA_CALL_TRACK,
                 MSG("E", ",\"consent\":{\"tcString\":\"TC\","
                          "\"categoryPreferences\":{\"Advertising\":true,"
                          "\"C0004\":true}}"),
                 "{\"gdpr_applies\":1,\"tc_string\":\"TC\","
                 "\"ad_user_data\":1,\"ad_personalization\":1}",
                 "all four");

    /* installs too; the batch's context */

    test_consent(&mapped, KOCHAVA_GDPR_NO, KOCHAVA_CALL_TRACK,
                 MSG("Application Installed", PREFS("{\"Advertising\":true}")),
                 "{\"gdpr_applies\":0,\"ad_user_data\":1}",
                 "an install carries it too");
    test_consent(&mapped, KOCHAVA_GDPR_UNKNOWN, KOCHAVA_CALL_BATCH,
                 "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\","
                 "\"event\":\"E\",\"context\":{\"device\":{\"id\":\"d\","
                 "\"advertisingId\":\"a\",\"type\":\"android\"}}}],"
                 "\"context\":{\"consent\":{\"categoryPreferences\":"
                 "{\"C0004\":true}}}}",
                 "{\"ad_personalization\":1}",
                 "the batch's context.consent, merged");

    done_testing();

    return 0;
}
