# Google's DMA consent (kochava.md, "Consent"): kochava_consent maps
# context.consent.categoryPreferences to ad_user_data / ad_personalization,
# tcString is passed on, kochava_gdpr_applies is a complex value.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an EEA user's choices: the two flags from the mapped categories, tc_string, gdpr_applies from a map of the country
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    map $http_x_country $kochava_gdpr { default ""; DE 1; US 0; }
--- config eval
ingest_config('kochava_consent ad_user_data=Advertising ad_personalization=C0004;'
              . ' kochava_gdpr_applies $kochava_gdpr;')
--- more_headers eval: "Authorization: " . basic_auth(KEY) . "\nX-Country: DE"
--- request eval
my $m = android_track('Consented');
$m->{context}{consent} = {
    categoryPreferences => {Advertising => JSON::PP::true, C0004 => JSON::PP::false,
                            Analytics => JSON::PP::true},
    tcString => 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA',
};
"POST /v1/track\n" . json($m)
--- error_code: 200
--- kochava eval
json([kochava_event('Consented', gdpr_privacy_consent => {
    gdpr_applies => 1, tc_string => 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA',
    ad_user_data => 1, ad_personalization => 0})])



=== TEST 2: outside the EEA (the map says 0), one category absent: gdpr_applies 0 and the flag that is known
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    map $http_x_country $kochava_gdpr { default ""; DE 1; US 0; }
--- config eval
ingest_config('kochava_consent ad_user_data=Advertising ad_personalization=C0004;'
              . ' kochava_gdpr_applies $kochava_gdpr;')
--- more_headers eval: "Authorization: " . basic_auth(KEY) . "\nX-Country: US"
--- request eval
my $m = android_track('Elsewhere');
$m->{context}{consent} = {categoryPreferences => {C0004 => JSON::PP::true}};
"POST /v1/track\n" . json($m)
--- error_code: 200
--- kochava eval
json([kochava_event('Elsewhere', gdpr_privacy_consent => {
    gdpr_applies => 0, ad_personalization => 1})])



=== TEST 3: nothing known (no consent in the message, an empty gdpr_applies): no gdpr_privacy_consent at all
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    map $http_x_country $kochava_gdpr { default ""; DE 1; US 0; }
--- config eval
ingest_config('kochava_consent ad_user_data=Advertising ad_personalization=C0004;'
              . ' kochava_gdpr_applies $kochava_gdpr;')
--- more_headers eval: "Authorization: " . basic_auth(KEY) . "\nX-Country: BR"
--- request eval
"POST /v1/track\n" . json(android_track('Unknown'))
--- error_code: 200
--- kochava eval: json([kochava_event('Unknown')])



=== TEST 4: without kochava_consent only tc_string (and gdpr_applies) can appear; a gdpr_applies that is not 1 or 0 is left out
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_gdpr_applies yes;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = android_track('TC Only');
$m->{context}{consent} = {categoryPreferences => {Advertising => JSON::PP::true},
                          tcString => 'TCSTRING'};
"POST /v1/track\n" . json($m)
--- error_code: 200
--- kochava eval
json([kochava_event('TC Only', gdpr_privacy_consent => {tc_string => 'TCSTRING'})])



=== TEST 5: inherited from the server level; "off" in a location cancels it
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
"    kochava_consent ad_user_data=Advertising;\n    kochava_gdpr_applies 1;\n"
. ingest_config()
. q{
    location /v2/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
        kochava_consent off;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = android_track('Inherited');
$m->{context}{consent} = {categoryPreferences => {Advertising => JSON::PP::false}};
my $n = android_track('Cancelled');
$n->{context}{consent} = {categoryPreferences => {Advertising => JSON::PP::false}};
["POST /v1/track\n" . json($m), "POST /v2/track\n" . json($n)]
--- error_code eval: [200, 200]
--- kochava eval
json([kochava_event('Inherited', gdpr_privacy_consent => {gdpr_applies => 1, ad_user_data => 0}),
      kochava_event('Cancelled', gdpr_privacy_consent => {gdpr_applies => 1})])



=== TEST 6: an unknown parameter fails nginx -t, naming the directive and what is expected
--- http_config
    kochava_consent ad_storage=Advertising;
--- config
--- must_die
--- error_log
invalid parameter "ad_storage=Advertising": "ad_user_data=<category>", "ad_personalization=<category>" or "off" expected
--- no_error_log
[alert]



=== TEST 7: an empty category fails nginx -t
--- http_config
    kochava_consent ad_user_data=;
--- config
--- must_die
--- error_log
"ad_user_data=" needs the name of a Segment consent category, e.g. "ad_user_data=Advertising"
--- no_error_log
[alert]



=== TEST 8: twice in one place fails nginx -t
--- http_config
    kochava_consent ad_user_data=A;
    kochava_consent ad_personalization=B;
--- config
--- must_die
--- error_log
"kochava_consent" directive is duplicate
--- no_error_log
[alert]
