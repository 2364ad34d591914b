# Endpoints, short forms, methods, the path deciding the type.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: POST /v1/track forwards one Kochava event
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Level Up', properties => {level => 7}))
--- error_code: 200
--- response_body chomp
{"success":true}
--- response_headers
Content-Type: application/json
X-Kochava: m=1 a=1 r=0 s=0 o=1
--- kochava eval: json([kochava_event('Level Up', event_data => {level => 7})])
--- kochava_identity: []



=== TEST 2: short form /v1/t and a trailing slash are accepted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/t\n" . json(android_track('Short')),
 "POST /v1/track/\n" . json(android_track('Slash'))]
--- error_code eval: [200, 200]
--- kochava eval: json([kochava_event('Short'), kochava_event('Slash')])



=== TEST 3: the path decides the type: a "type" that disagrees is overwritten
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/screen\n" . json(android_track('Ignored', type => 'identify', name => 'Home'))
--- error_code: 200
--- kochava eval: json([kochava_event('Viewed Home Screen', event_data => {name => 'Home'})])



=== TEST 4: /v1/m (analytics.js metrics) is answered and ignored
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request
POST /v1/m
{"series":[{"type":"Counter","metric":"analytics_js.invoke","value":1}]}
--- error_code: 200
--- response_body chomp
{"success":true}
--- kochava: []



=== TEST 5: GET is 405 with Allow and a JSON body
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request
GET /v1/track
--- error_code: 405
--- response_headers
Allow: POST, OPTIONS
Content-Type: application/json
--- response_body chomp
{"success":false,"message":"Method not allowed"}
--- kochava: []



=== TEST 6: OPTIONS without CORS is 405 too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request
OPTIONS /v1/batch
--- error_code: 405



=== TEST 7: CORS pre-flight with kochava_cors on mirrors the Origin
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config("kochava_cors on;")
--- more_headers
Origin: https://app.example.com
Access-Control-Request-Method: POST
--- request
OPTIONS /v1/t
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: POST, OPTIONS



=== TEST 8: unknown call is 404, nothing forwarded
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/purchase\n" . json(android_track('X'))
--- error_code: 404
--- response_body chomp
{"success":false,"message":"Not found"}
--- kochava: []



=== TEST 9: Content-Type is not trusted: form-encoded and text/plain bodies are JSON
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval
["Authorization: " . basic_auth(KEY) . "\nContent-Type: application/x-www-form-urlencoded",
 "Authorization: " . basic_auth(KEY) . "\nContent-Type: text/plain"]
--- request eval
["POST /v1/track\n" . json(android_track('Form')),
 "POST /v1/track\n" . json(android_track('Plain'))]
--- error_code eval: [200, 200]
--- kochava eval: json([kochava_event('Form'), kochava_event('Plain')])



=== TEST 10: outbound requests are POST application/json with an exact length and none of the client's headers
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval
"Authorization: " . basic_auth(KEY) . "\nCookie: session=secret\nContent-Type: text/plain"
--- request eval
"POST /v1/track\n" . json(android_track('Headers'))
--- error_code: 200
--- upstream_requests_like eval
[qr/"method":"POST"/, qr/"content_type":"application\/json"/,
 qr/"authorization":""/, qr/"content_encoding":""/, qr/"content_length":"\d+"/]



=== TEST 11: batch: each item's own type, outputs to both destinations
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    android_track('One'),
    {%{android_track('x')}, type => 'alias', userId => 'u-2', previousId => 'anon-1'},
]})
--- error_code: 200
--- response_headers
X-Kochava: m=2 a=2 r=0 s=0 o=2
--- kochava eval: json([kochava_event('One')])
--- kochava_identity eval
json([{kochava_app_id => GUID,
       device_id => {adid => '38400000-8cf0-11bd-b23e-10b96e40000d', android_id => 'a1b2c3d4e5f60718'},
       data => {user_id => 'u-2', previous_id => 'anon-1'}}])
