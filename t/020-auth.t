# Write keys: Basic, Bearer, body writeKey; kochava_app_id as a map or a
# constant; 401 with nothing forwarded.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: Basic base64(key:) maps to the App GUID
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Basic'))
--- error_code: 200
--- kochava eval: json([kochava_event('Basic')])



=== TEST 2: Basic without the colon works too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Authorization: Basic d2tfdGVzdF8x
--- request eval
"POST /v1/track\n" . json(android_track('No Colon'))
--- error_code: 200
--- kochava eval: json([kochava_event('No Colon')])



=== TEST 3: Bearer key
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Authorization: Bearer wk_test_1
--- request eval
"POST /v1/track\n" . json(android_track('Bearer'))
--- error_code: 200
--- kochava eval: json([kochava_event('Bearer')])



=== TEST 4: body writeKey of a batch (Python, Android, iOS libraries send no header)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request eval
"POST /v1/batch\n" . json({batch => [android_track('Body Key')], writeKey => 'wk_test_1',
                           sentAt => '2024-03-20T19:26:56Z'})
--- error_code: 200
--- kochava eval: json([kochava_event('Body Key', usertime => {'$near_now' => 0})])



=== TEST 5: unknown key in the header: 401, nothing forwarded, key not echoed
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth('wk_secret_but_wrong')
--- request eval
"POST /v1/track\n" . json(android_track('Nope'))
--- error_code: 401
--- response_body chomp
{"success":false,"message":"Invalid write key"}
--- kochava: []
--- log_level: info
--- no_error_log
wk_secret_but_wrong



=== TEST 6: no key anywhere: 401
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request eval
"POST /v1/track\n" . json(android_track('Keyless'))
--- error_code: 401
--- kochava: []



=== TEST 7: the header key wins over the body key
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth('wk_other')
--- request eval
"POST /v1/track\n" . json(android_track('Both', writeKey => 'wk_test_1'))
--- error_code: 401
--- kochava: []



=== TEST 8: a constant App GUID needs no key (trusted internal edge)
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id koexample-app-guid;
        kochava_pass /_kochava/track;
    }
--- request eval
"POST /v1/track\n" . json(android_track('Trusted'))
--- error_code: 200
--- kochava eval: json([kochava_event('Trusted')])



=== TEST 9: $kochava_write_key is what map sees, from the body too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Key $kochava_write_key always;')
--- request eval
"POST /v1/track\n" . json(android_track('Var', writeKey => 'wk_test_1'))
--- error_code: 200
--- response_headers
X-Key: wk_test_1



=== TEST 10: a write key of 10 KB is refused as invalid, not truncated
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request eval
"POST /v1/track\n" . json(android_track('Huge Key', writeKey => 'k' x 10240))
--- error_code: 401
--- kochava: []



=== TEST 11: a header key is checked before the body is read
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: Bearer nope"
--- request eval
"POST /v1/track\n" . ('{' x 5000)
--- error_code: 401
--- response_body chomp
{"success":false,"message":"Invalid write key"}



=== TEST 12: $kochava_error says why a 401 was answered, for a header key and for a body key
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Error $kochava_error always;')
--- request eval
["POST /v1/track\n" . json(android_track('Body Nope', writeKey => 'wk_wrong')),
 "POST /v1/batch\n" . json({batch => [android_track('No Key')]})]
--- error_code eval: [401, 401]
--- response_headers eval
["X-Error: Invalid write key", "X-Error: Invalid write key"]
--- kochava: []



=== TEST 13: $kochava_error for a header key refused before the body is read
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Error $kochava_error always;')
--- more_headers eval: "Authorization: " . basic_auth('wk_wrong')
--- request eval
"POST /v1/track\n" . json(android_track('Header Nope'))
--- error_code: 401
--- response_headers
X-Error: Invalid write key
--- kochava: []
