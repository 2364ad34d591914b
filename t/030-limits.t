# Limits: each one a directive, enforced before the work it protects.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a single message over kochava_max_message_size is 400
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_message_size 1k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Big', properties => {pad => 'x' x 2000}))
--- error_code: 400
--- response_body_like: "success":false,"message":"[^"]*(1024|size|large)
--- kochava: []



=== TEST 2: in a batch, only the message over the size is rejected
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_message_size 1k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    android_track('Small'),
    android_track('Big', properties => {pad => 'x' x 2000}),
]})
--- error_code: 200
--- response_body_like: "accepted":1,"rejected":\[\{"index":1,
--- response_headers
X-Kochava: m=2 a=1 r=1 s=0 o=1
--- kochava eval: json([kochava_event('Small')])



=== TEST 3: white space does not count towards the message size
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_message_size 1k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = json(android_track('Spaced'));
$m =~ s/,/,                                        /g;
"POST /v1/track\n" . $m
--- error_code: 200
--- kochava eval: json([kochava_event('Spaced')])



=== TEST 4: more messages than kochava_max_batch: 400, nothing forwarded
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_batch 3;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("E$_") } 1 .. 4]})
--- error_code: 400
--- response_body_like: "success":false,"message":"[^"]*batch
--- kochava: []



=== TEST 5: exactly kochava_max_batch messages pass
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_batch 3;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("E$_") } 1 .. 3]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("E$_") } 1 .. 3])



=== TEST 6: 100,000 tiny messages are refused on the raw bytes
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . '{"batch":[' . join(',', ('{}') x 100000) . ']}'
--- error_code: 400
--- response_body_like: "success":false
--- kochava: []
--- timeout: 10



=== TEST 7: a single message nested deeper than kochava_max_depth is 400
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_depth 8;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $deep = {};
$deep = {d => $deep} for 1 .. 10;
"POST /v1/track\n" . json(android_track('Deep', properties => $deep))
--- error_code: 400
--- kochava: []



=== TEST 8: in a batch, only the too deep message is rejected
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_depth 8;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $deep = {};
$deep = {d => $deep} for 1 .. 10;
"POST /v1/batch\n" . json({batch => [android_track('Deep', properties => $deep),
                                     android_track('Flat')]})
--- error_code: 200
--- response_body_like: "rejected":\[\{"index":0,
--- kochava eval: json([kochava_event('Flat')])



=== TEST 9: nesting 100,000 deep is refused before parsing
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . ('[' x 100000) . (']' x 100000)
--- error_code: 400
--- kochava: []



=== TEST 10: a declared Content-Length over kochava_max_body_size is 400 unread
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_max_body_size 4k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("E$_") } 1 .. 40]})
--- error_code: 400
--- response_body chomp
{"success":false,"message":"Request body too large"}
--- kochava: []



=== TEST 11: a 10 MB body is refused
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . ('x' x (10 * 1024 * 1024))
--- error_code: 400
--- response_body chomp
{"success":false,"message":"Request body too large"}
--- kochava: []
--- timeout: 20
