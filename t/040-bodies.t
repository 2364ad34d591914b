# Bodies as SDKs send them: gzip, deflate, chunked, and as nginx keeps
# them: several buffers, a temporary file.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: Content-Encoding: gzip (iOS, Android, Kotlin)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: gzip
--- request eval
"POST /v1/batch\n" . gzipped(json({batch => [android_track('Zipped')], writeKey => KEY}))
--- error_code: 200
--- kochava eval: json([kochava_event('Zipped')])



=== TEST 2: Content-Encoding: deflate
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: deflate
--- request eval
"POST /v1/batch\n" . deflated(json({batch => [android_track('Deflated')], writeKey => KEY}))
--- error_code: 200
--- kochava eval: json([kochava_event('Deflated')])



=== TEST 3: chunked with no Content-Length (Android classic)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- raw_request eval
chunked('/v1/batch', '', json({batch => [android_track('Chunked')], writeKey => KEY}), 37)
--- error_code: 200
--- kochava eval: json([kochava_event('Chunked')])



=== TEST 4: chunked and gzipped (Kotlin)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- raw_request eval
chunked('/v1/b', "Content-Encoding: gzip\r\nContent-Type: text/plain\r\n",
        gzipped(json({batch => [android_track('Kotlin')], writeKey => KEY})), 50)
--- error_code: 200
--- kochava eval: json([kochava_event('Kotlin')])



=== TEST 5: an unknown encoding is 415 before the body is read
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: br
--- request eval
"POST /v1/batch\n" . json({batch => [android_track('Brotli')], writeKey => KEY})
--- error_code: 415
--- response_body chomp
{"success":false,"message":"Unsupported content encoding"}
--- kochava: []



=== TEST 6: a body that says gzip and is not is 400
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: gzip
--- request eval
"POST /v1/batch\n" . json({batch => [android_track('Lies')], writeKey => KEY})
--- error_code: 400
--- response_body_like: "success":false
--- kochava: []



=== TEST 7: a gzip bomb is refused as too large, not inflated to memory
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: gzip
--- request eval
"POST /v1/batch\n" . gzipped('{"batch":[' . (' ' x (64 * 1024 * 1024)) . ']}')
--- error_code: 400
--- response_body chomp
{"success":false,"message":"Request body too large"}
--- kochava: []
--- timeout: 20



=== TEST 8: a body nginx buffered to a temporary file
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('client_body_buffer_size 128;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("File $_") } 1 .. 5]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("File $_") } 1 .. 5])
--- error_log
a client request body is buffered to a temporary file



=== TEST 9: an empty body is 400 "Invalid JSON: empty body" (not the parser's own words)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Error $kochava_error always;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request
POST /v1/track
--- error_code: 400
--- response_body chomp
{"success":false,"message":"Invalid JSON: empty body"}
--- response_headers
X-Error: Invalid JSON: empty body
--- kochava: []



=== TEST 9a: an empty gzip body is empty too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY) . "\nContent-Encoding: gzip"
--- request eval
"POST /v1/batch\n" . gzipped('')
--- error_code: 400
--- response_body chomp
{"success":false,"message":"Invalid JSON: empty body"}
--- kochava: []



=== TEST 10: invalid JSON names the parser's complaint and where
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request
POST /v1/track
{"type":"track",
--- error_code: 400
--- response_body_like: ^\{"success":false,"message":"Invalid JSON: .*\(line \d+, column \d+\)"\}$
--- kochava: []



=== TEST 11: a batch whose "batch" is not an array is 400
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request
POST /v1/batch
{"batch":{"type":"track"}}
--- error_code: 400
--- response_body_like: "message":"Invalid JSON: batch is not an array"
--- kochava: []



=== TEST 12: duplicate keys, \u0000 and invalid UTF-8 are 400
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n{\"event\":\"a\",\"event\":\"b\"}",
 "POST /v1/track\n{\"event\":\"a\\u0000b\"}",
 "POST /v1/track\n{\"event\":\"\xff\xfe\"}"]
--- error_code eval: [400, 400, 400]
--- kochava: []



=== TEST 13: a quote written as \u0022 goes out escaped, as valid JSON
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- request eval
my $body = json({batch => [android_track('Say "hi"')], writeKey => KEY});
$body =~ s/\\"/\\u0022/g;
"POST /v1/batch\n$body"
--- error_code: 200
--- kochava eval: json([kochava_event('Say "hi"')])
