# Sync delivery: how upstream answers become the client's answer.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: upstream 503: the client gets 503 + Retry-After, the message was sent
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_retry_after 7s;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Down'))
--- error_code: 503
--- response_headers
Retry-After: 7
Content-Type: application/json
--- response_body chomp
{"success":false,"message":"Upstream unavailable"}
--- upstream_requests_like: "uri":"/_mock/fail/503"
--- error_log
kochava: kochava failed for message 0 with 503 (retryable)



=== TEST 2: 429 and 500 are retryable too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/429;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/500;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Limited')),
 "POST /v1/alias\n" . json(android_track('x', userId => 'u', previousId => 'p'))]
--- error_code eval: [503, 503]



=== TEST 3: upstream refusing connections: 503
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:1/track/json;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Refused'))
--- error_code: 503
--- error_log
kochava: kochava failed for message 0 with 502 (retryable)



=== TEST 4: upstream slower than proxy_read_timeout: 503 (timeout)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Slow'))
--- error_code: 503
--- error_log
(timeout)
--- timeout: 5



=== TEST 5: upstream 400 is permanent: 200 to the client, logged at error
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/400;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Refused Forever'))
--- error_code: 200
--- response_body chomp
{"success":true}
--- error_log
kochava: kochava refused message 0 with 400, not retried



=== TEST 6: Kochava's {"success":"0"} is permanent
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava_no;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Said No'))
--- error_code: 200
--- error_log
kochava: kochava refused message 0 with 200, not retried



=== TEST 7: a 200 that is not JSON is retryable (something else answered)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/notjson;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Captive'))
--- error_code: 503



=== TEST 8: one failure in a batch makes the whole answer 503; the rest was delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    android_track('Fine'),
    {%{android_track('x')}, type => 'alias', userId => 'u-2', previousId => 'anon-1'},
]})
--- error_code: 503
--- kochava eval: json([kochava_event('Fine')])



=== TEST 9: kochava_concurrency caps the outbound requests in flight
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_concurrency 2;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("C$_") } 1 .. 7]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("C$_") } 1 .. 7])
--- error_log
2 in flight
--- no_error_log eval
qr/kochava: message \d+ to \S+, [3-9] in flight/



=== TEST 10: upstream keepalive connections are reused across messages
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        keepalive 4;
    }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_concurrency 1;') . q{
    location /_kochava/track {
        internal;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://mock/_mock/kochava;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("K$_") } 1 .. 4]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("K$_") } 1 .. 4])
--- grep_error_log eval: qr/http upstream keepalive|free keepalive peer: saving connection/
--- grep_error_log_out eval
qr/(free keepalive peer: saving connection.*){3}/s



=== TEST 11: a Kochava that fails every message: one log line a second, with the count of the lines left out
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("Flood $_") } 1 .. 60]}),
 "POST /v1/batch\n" . json({batch => [map { android_track("Flood $_") } 1 .. 60]})]
--- error_code eval: [503, 503]
--- grep_error_log eval: qr/kochava failed for message \d+ with 503 \(retryable\)(?: \(\d+ more since the last such line\))?/
--- grep_error_log_out eval
# 60 failures a request, each request's lines checked on their own: one
# line in all, or one more for a second that began within them (it
# carries the count); one a message without the limiter
qr/\A(?:kochava failed for message \d+ with 503 \(retryable\)(?: \(\d+ more since the last such line\))?\n){0,2}\z/
