# GET <location>/projects/<writeKey>/settings (ingest.md, "Settings for the
# mobile and browser libraries"): the body Segment's libraries parse, the
# write key checked (unknown: 404), apiHost from the request or
# kochava_settings_api_host, caching headers.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the settings of a known key: Segment.io only, pointed at this location (what analytics-kotlin/-swift/-react-native/-flutter and analytics.js parse)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Key $kochava_write_key always;')
--- more_headers
Host: edge.example.com:8443
--- request
GET /v1/projects/wk_test_1/settings
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: public, max-age=300
X-Key: wk_test_1
--- response_body chomp
{"integrations":{"Segment.io":{"apiKey":"wk_test_1","apiHost":"edge.example.com:8443/v1","protocol":"http"}},"plan":{"track":{"__default":{"enabled":true,"integrations":{}}},"identify":{"__default":{"enabled":true}},"group":{"__default":{"enabled":true}}},"edgeFunction":{},"metrics":{"sampleRate":0},"remotePlugins":[]}
--- kochava: []



=== TEST 2: what the libraries read: one integration only (Segment.io, so no device-mode destination starts), its apiKey and apiHost (Kotlin, Swift, Flutter and React Native post to https://<apiHost>/b), telemetry off
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Host: edge.example.com
--- request
GET /v1/projects/wk_test_1/settings
--- error_code: 200
--- response_body_like: ^\{"integrations":\{"Segment\.io":\{"apiKey":"wk_test_1","apiHost":"edge\.example\.com/v1","protocol":"http"\}\},.*"metrics":\{"sampleRate":0\}



=== TEST 3: an unknown key is 404 JSON, as Segment's CDN answers; the key is not echoed or logged
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Error $kochava_error always;')
--- request
GET /v1/projects/wk_secret_but_wrong/settings
--- error_code: 404
--- response_headers
Content-Type: application/json
X-Error: Not found
!Cache-Control
--- response_body chomp
{"success":false,"message":"Not found"}
--- log_level: info
--- no_error_log
wk_secret_but_wrong
--- kochava: []



=== TEST 4: HEAD: the same headers, no body
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request
HEAD /v1/projects/wk_test_1/settings
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: public, max-age=300
--- response_body chomp



=== TEST 5: another method on the settings path: 405 with Allow: GET, HEAD
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request
POST /v1/projects/wk_test_1/settings
{"batch":[]}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"success":false,"message":"Method not allowed"}



=== TEST 6: kochava_settings_api_host: the host the apps must use (behind a load balancer or a CDN); its scheme is analytics.js's protocol
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_settings_api_host https://$kochava_edge/v1/;')
. "    set \$kochava_edge edge.example.com;\n"
--- request
GET /v1/projects/wk_test_1/settings/
--- error_code: 200
--- response_body_like: "Segment\.io":\{"apiKey":"wk_test_1","apiHost":"edge\.example\.com/v1","protocol":"https"\}



=== TEST 7: a location elsewhere than /v1/, a key that needs escaping, a constant App GUID (no key check)
--- config
    location /segment/ {
        kochava_ingest;
        kochava_app_id koexample-app-guid;
        kochava_pass /_kochava/track;
    }
--- more_headers
Host: 127.0.0.1:8080
--- request
GET /segment/projects/wk%22q/settings
--- error_code: 200
--- response_body_like: "Segment\.io":\{"apiKey":"wk\\"q","apiHost":"127\.0\.0\.1:8080/segment","protocol":"http"\}



=== TEST 8: not a settings path: the ingest location answers as before
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request eval
["GET /v1/projects/wk_test_1/settingsx", "GET /v1/settings", "GET /v1/projects/settings"]
--- error_code eval: [405, 405, 405]
--- response_headers eval
["Allow: POST, OPTIONS", "Allow: POST, OPTIONS", "Allow: POST, OPTIONS"]



=== TEST 9: with kochava_cors on, a browser on another origin may read it (analytics.js fetches it cross-origin)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_cors on;')
--- more_headers
Origin: https://shop.example.com
--- request
GET /v1/projects/wk_test_1/settings
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: https://shop.example.com



=== TEST 10: a key too long to be one is 404, not truncated
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id koexample-app-guid;
        kochava_pass /_kochava/track;
    }
--- request eval
"GET /v1/projects/" . ('k' x 600) . "/settings"
--- error_code: 404
--- response_body chomp
{"success":false,"message":"Not found"}



=== TEST 11: the rollback of docs/migrating-from-segment.md: the settings send the libraries back to Segment's API
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_settings_api_host https://api.segment.io/v1;')
--- request
GET /v1/projects/wk_test_1/settings
--- error_code: 200
--- response_body_like: "Segment\.io":\{"apiKey":"wk_test_1","apiHost":"api\.segment\.io/v1","protocol":"https"\}
