# kochava_worker_concurrency: at most N outbound requests in flight in a
# worker, over all fan-outs; the others wait in line and start as slots
# free.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: one batch: never more than the worker's slots in flight, everything delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency 3;
--- config eval
ingest_config() . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("W$_") } 1 .. 7]}),
"GET /metrics"]
--- error_code eval: [200, 200]
--- kochava eval: json([map { kochava_event("W$_") } 1 .. 7])
--- metrics
kochava_upstream_requests_total{destination="kochava",result="ok"} 7
kochava_upstream_waits_total 4
kochava_worker_slots_taken 0
kochava_worker_slots 3
kochava_upstream_in_flight 0
--- error_log
3 in flight, 3 worker slots taken
kochava: fan-out waits for a worker slot, 3 taken
--- no_error_log eval
[qr/, [4-9] worker slots taken/, qr/\[alert\]/]



=== TEST 2: two async fan-outs share the worker's slots: the second waits for the first
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency 2;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- pipelined_requests eval
["POST /v1/batch\n" . json({batch => [android_track('A1'), android_track('A2')]}),
 "POST /v1/batch\n" . json({batch => [android_track('B1'), android_track('B2')]})]
--- error_code eval: [200, 200]
--- response_body eval
["{\"success\":true}", "{\"success\":true}"]
--- wait: 1
--- kochava eval: json([map { kochava_event($_) } qw(A1 A2 B1 B2)])
--- spool: []
--- error_log eval
["kochava: fan-out waits for a worker slot, 2 taken",
 "2 in flight, 2 worker slots taken",
 qr/kochava: fan-out woken with [12] worker slot\(s\)/]
--- grep_error_log eval: qr/async fan-out of 2 requests over: 2 delivered/
--- grep_error_log_out
async fan-out of 2 requests over: 2 delivered
async fan-out of 2 requests over: 2 delivered
--- no_error_log eval
[qr/, [3-9] worker slots taken/, qr/\[alert\]/, qr/\[error\]/]



=== TEST 3: the request's own cap binds first: nobody waits
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency 5;
--- config eval
ingest_config('kochava_concurrency 2;') . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("R$_") } 1 .. 6]}),
"GET /metrics"]
--- error_code eval: [200, 200]
--- kochava eval: json([map { kochava_event("R$_") } 1 .. 6])
--- metrics
kochava_upstream_waits_total 0
--- error_log
2 in flight, 2 worker slots taken
--- no_error_log eval
[qr/[3-9] in flight/, qr/waits for a worker slot/, qr/\[alert\]/]



=== TEST 4: off: no worker slots are counted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency off;
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { android_track("O$_") } 1 .. 5]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("O$_") } 1 .. 5])
--- error_log
5 in flight
--- no_error_log
worker slot
[alert]



=== TEST 5: slots of failed requests go back: the next request is not stuck
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_worker_concurrency 1;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location /ok/v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/ok;
    }
    location /_kochava/ok {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("F$_") } 1 .. 3]}),
 "POST /ok/v1/batch\n" . json({batch => [map { android_track("K$_") } 1 .. 2]})]
--- error_code eval: [503, 200]
--- timeout: 5
--- kochava eval: json([map { kochava_event("K$_") } 1 .. 2])
--- grep_error_log eval: qr/failed for message \d+ with 503/
--- grep_error_log_out
failed for message 0 with 503
--- no_error_log eval
[qr/, [2-9] worker slots taken/, qr/\[alert\]/]



=== TEST 6: zero is refused
--- http_config
    kochava_worker_concurrency 0;
--- config
--- must_die
--- error_log
"kochava_worker_concurrency" must be a number greater than zero or "off", not "0"
--- no_error_log
[alert]



=== TEST 7: not a number
--- http_config
    kochava_worker_concurrency many;
--- config
--- must_die
--- error_log
"kochava_worker_concurrency" must be a number greater than zero or "off", not "many"
--- no_error_log
[alert]



=== TEST 8: twice
--- http_config
    kochava_worker_concurrency 8;
    kochava_worker_concurrency 16;
--- config
--- must_die
--- error_log
"kochava_worker_concurrency" directive is duplicate
--- no_error_log
[alert]



=== TEST 9: a worker-wide setting: not in a location
--- config
    location /v1/ {
        kochava_worker_concurrency 8;
    }
--- must_die
--- error_log
"kochava_worker_concurrency" directive is not allowed here
--- no_error_log
[alert]



=== TEST 10: without the directive: a quarter of worker_connections (1024 here), taken and given back
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config() . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/batch\n" . json({batch => [map { android_track("D$_") } 1 .. 4]}),
"GET /metrics"]
--- error_code eval: [200, 200]
--- kochava eval: json([map { kochava_event("D$_") } 1 .. 4])
--- metrics
kochava_worker_slots 256
kochava_worker_slots_taken 0
kochava_upstream_waits_total 0
--- error_log
4 in flight, 4 worker slots taken



=== TEST 11: off shows as no slots
--- http_config
    kochava_worker_concurrency off;
--- config
    location = /metrics { kochava_status; }
--- request
GET /metrics
--- error_code: 200
--- metrics
kochava_worker_slots 0



=== TEST 12: as many as worker_connections is refused: the worker would run out of connections first
--- http_config
    kochava_worker_concurrency 1024;
--- config
--- must_die
--- error_log
"kochava_worker_concurrency 1024" is not below "worker_connections 1024": each outbound request holds a connection, so the worker runs out of them first; lower it (without the directive it is a quarter of worker_connections, 256) or raise worker_connections
--- no_error_log
[alert]



=== TEST 13: more than half of worker_connections: a warning, and the bound as written
--- http_config
    kochava_worker_concurrency 513;
--- config
    location = /metrics { kochava_status; }
--- request
GET /metrics
--- error_code: 200
--- metrics
kochava_worker_slots 513
--- error_log
"kochava_worker_concurrency 513" is more than half of "worker_connections 1024"



=== TEST 14: half of worker_connections: no warning
--- http_config
    kochava_worker_concurrency 512;
--- config
    location = /metrics { kochava_status; }
--- request
GET /metrics
--- error_code: 200
--- metrics
kochava_worker_slots 512
--- no_error_log
kochava_worker_concurrency
