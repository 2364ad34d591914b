# Whose answer it is (spec/delivery.md): only an answer that came through
# an upstream is Kochava's.  A status nginx produced itself for the pass
# location (here: empty_gif's 405 for a POST, a location nginx -t cannot
# tell from a proxy) is the configuration's failure: retryable (sync 503 +
# Retry-After, async spooled), one alert a second at most, counted in
# kochava_config_errors_total, and never recorded for de-duplication, so
# that the retry after the fix is delivered.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: sync, a pass location nginx answers itself: 503, not marked; the retry through the fixed pass delivers all 10
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
q{
    location /bad/v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/gif;
        kochava_dedup ids;
    }
    location /_kochava/gif {
        internal;
        empty_gif;
    }
} . ingest_config('kochava_dedup ids;') . q{
    location = /metrics {
        kochava_status;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $batch = json({batch => [map { android_track("Fixed $_") } 1 .. 10]});
["POST /bad/v1/batch\n$batch", "POST /v1/batch\n$batch", "GET /metrics"]
--- error_code eval: [503, 200, 200]
--- kochava eval: json([map { kochava_event("Fixed $_") } 1 .. 10])
--- metrics
kochava_config_errors_total{destination="kochava"} 10
kochava_messages_deduplicated_total{where="batch"} 0
kochava_messages_deduplicated_total{where="local"} 0
kochava_upstream_requests_total{destination="kochava",result="ok"} 10
kochava_upstream_requests_total{destination="kochava",result="permanent"} 0
--- no_error_log
refused message
[crit]
[emerg]



=== TEST 2: the alert is logged once a second at most, every failure counted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
q{
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/gif;
    }
    location /_kochava/gif {
        internal;
        empty_gif;
    }
    location = /metrics {
        kochava_status;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("Loud $_") } 1 .. 50]}),
 "GET /metrics"]
--- error_code eval: [503, 200]
--- kochava: []
--- metrics
kochava_config_errors_total{destination="kochava"} 50
--- grep_error_log eval: qr/was answered 405 by nginx itself/
--- grep_error_log_out eval
# one line, or two when the batch straddles a second (per request: none
# for the GET of the metrics)
qr/\A(?:was answered 405 by nginx itself\n){0,2}\z/
--- no_error_log
[crit]
[emerg]



=== TEST 3: async: the messages are spooled for the replay, marked "405 configuration", not de-duplicated afterwards
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
q{
    location /bad/v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/gif;
        kochava_delivery async;
        kochava_spool spool;
        kochava_dedup ids;
    }
    location /_kochava/gif {
        internal;
        empty_gif;
    }
} . ingest_config('kochava_dedup ids;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $batch = json({batch => [map { android_track("Spooled $_") } 1 .. 2]});
["POST /bad/v1/batch\n$batch", "POST /v1/batch\n$batch"]
--- error_code eval: [200, 200]
--- wait: 0.5
--- spool eval
json([map {
  {dest => 'kochava', uri => '/_kochava/gif', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '405 configuration',
   body => kochava_event("Spooled $_")}
} 1 .. 2])
--- kochava eval: json([map { kochava_event("Spooled $_") } 1 .. 2])
--- no_error_log
[crit]
[emerg]



=== TEST 4: a pass location that is a real proxy is judged as before: Kochava's 400 is a permanent refusal, not a configuration failure
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/400;
    }
    location = /metrics {
        kochava_status;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Refused')), "GET /metrics"]
--- error_code eval: [200, 200]
--- metrics
kochava_config_errors_total{destination="kochava"} 0
kochava_upstream_requests_total{destination="kochava",result="permanent"} 1
--- no_error_log
by nginx itself
[alert]



=== TEST 5: the alert names the pass location, its status and what to fix
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
q{
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/gif;
    }
    location /_kochava/gif {
        internal;
        empty_gif;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Named'))
--- error_code: 503
--- response_headers
Retry-After: 10
--- response_body_like: Upstream unavailable
--- kochava: []
--- error_log eval
[qr/\[alert\] .*kochava: kochava location "\/_kochava\/gif" was answered 405 by nginx itself, not by an upstream: the kochava pass does not lead to a proxy_pass location/]
--- no_error_log
[crit]
[emerg]
