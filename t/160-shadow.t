# The shadow period of docs/migrating-from-segment.md (docs/examples/
# shadow.conf): nginx's "mirror" copies each call, as it came, to Segment
# while kochava_ingest handles the same call; both see the whole body.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a batch: the copy gets the body unchanged, the edge rewrites it as always, the client gets the edge's answer
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('mirror /_segment_copy; mirror_request_body on;') . q{
    # stands for Segment's API: the mock records what it gets
    location = /_segment_copy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/braze;
    }
}
--- request eval
"POST /v1/b\n" . json({batch => [android_track('Shadowed One'), android_track('Shadowed Two')],
                       writeKey => 'wk_test_1'})
--- error_code: 200
--- response_body chomp
{"success":true}
--- kochava eval: json([kochava_event('Shadowed One'), kochava_event('Shadowed Two')])
--- braze eval
json([{batch => [android_track('Shadowed One'), android_track('Shadowed Two')],
       writeKey => 'wk_test_1'}])



=== TEST 2: gzipped and chunked, as analytics-kotlin sends it: the mirror reading the body first does not disturb the edge
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('mirror /_segment_copy; mirror_request_body on;') . q{
    location = /_segment_copy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/braze;
    }
}
--- raw_request eval
chunked("/v1/b", "Content-Encoding: gzip\r\n",
        gzipped(json({batch => [android_track('Kotlin Shadow')], writeKey => 'wk_test_1'})))
--- error_code: 200
--- kochava eval: json([kochava_event('Kotlin Shadow')])
