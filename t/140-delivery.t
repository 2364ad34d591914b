# The delivery layer's guards and its gauges: one role per location, the
# async backlog (kochava_async_backlog), the gauges of kochava_status.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: kochava_ingest and kochava_status in one location: nginx -t refuses it
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_status;')
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_ingest" and "kochava_status" in one location
--- no_error_log
[alert]



=== TEST 2: kochava_postback and kochava_ingest in one location: refused
--- config
    location /pb {
        kochava_postback kochava;
        kochava_ingest;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /pb
--- must_die
--- error_log
"kochava_postback" and "kochava_ingest" in one location
--- no_error_log
[alert]



=== TEST 3: the async backlog is full: the fan-out does not start, the records stay in the journal
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_async_backlog 100;') . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/track\n" . json(android_track('Backlog Full')), "GET /metrics"]
--- error_code eval: [200, 200]
--- kochava: []
--- spool: []
--- metrics
kochava_journal_records_total 1
kochava_spool_records_total 1
kochava_upstream_in_flight 0
kochava_async_fanouts 0
--- error_log
kochava: async fan-out not started (async backlog full), 1 requests left in the spool's journal



=== TEST 4: under the backlog: the fan-out runs, its record is marked done
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_async_backlog 100k;') . q{
    location = /pause { echo_sleep 0.3; echo ok; }
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), "", ""]
--- request eval
["POST /v1/track\n" . json(android_track('Backlog Room')), "GET /pause",
 "GET /metrics"]
--- error_code eval: [200, 200, 200]
--- kochava eval: json([kochava_event('Backlog Room')])
--- metrics
kochava_journal_records_total 1
kochava_spool_records_total 0
kochava_upstream_requests_total{destination="kochava",result="ok"} 1
kochava_upstream_in_flight 0
kochava_async_fanouts 0
kochava_worker_slots_taken 0
--- no_error_log
async fan-out not started



=== TEST 5: the gauges while a fan-out runs: one outbound request in flight, one async fan-out
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency 4;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava/slow;
    }
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/track\n" . json(android_track('In Flight')), "GET /metrics"]
--- error_code eval: [200, 200]
--- kochava eval: json([kochava_event('In Flight')])
--- metrics
kochava_upstream_in_flight 1
kochava_worker_slots_taken 1
kochava_async_fanouts 1



=== TEST 6: fsync=on: answered once the records are on disk (group commit in a thread), delivered, marked done
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool fsync=on;') . q{
    location = /pause { echo_sleep 0.3; echo ok; }
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), "", ""]
--- request eval
["POST /v1/batch\n" . json({batch => [android_track('Synced One'), android_track('Synced Two')]}),
 "GET /pause", "GET /metrics"]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
['\{"success":true\}', 'ok', 'kochava_journal_records_total 2']
--- kochava eval: json([kochava_event('Synced One'), kochava_event('Synced Two')])
--- spool: []
--- metrics
kochava_journal_records_total 2
kochava_spool_records_total 0
kochava_upstream_in_flight 0
--- no_error_log
[alert]
fdatasync



=== TEST 7: fsync=on, Kochava down: the failure stays in the fsynced journal, no failure record
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool fsync=on;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Synced Down'))
--- error_code: 200
--- response_body chomp
{"success":true}
--- wait: 0.3
--- spool: []
--- error_log
0 delivered, 0 refused, 1 failed, 1 of them spooled



=== TEST 8: sync: an outbound request that cannot be started (fault injected) fails with the rest, 503, nothing skipped
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_debug_fail_subrequest 2;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("Fault $_") } 1 .. 3]})
--- error_code: 503
--- response_headers
Retry-After: 10
--- kochava eval: json([kochava_event('Fault 1')])
--- error_log
kochava: outbound request 2 of 3 could not be started, it and the rest are failed
2 of 3 outbound requests failed and may succeed later, answered 503
--- no_error_log
[alert]



=== TEST 9: async: the one that cannot be started and the rest are spooled, none is lost
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_debug_fail_subrequest 2;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("Fault $_") } 1 .. 3]})
--- error_code: 200
--- wait: 0.3
--- kochava eval: json([kochava_event('Fault 1')])
--- spool eval
json([map {
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => 'internal error',
   body => kochava_event("Fault $_")} } 2 .. 3])
--- error_log
async fan-out of 3 requests over: 1 delivered, 0 refused, 2 failed, 2 of them spooled
--- no_error_log
[alert]
