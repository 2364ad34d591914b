# The ingest edge over HTTP/2 (h2c with prior knowledge, curl): single
# calls, batches, gzip, a body nginx keeps in a temporary file, and a
# client that resets mid-body.  nginx 1.25 rewrote HTTP/2 body reading;
# make test-nginx-versions runs this file on every version.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::H2;
use t::Metrics;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a single track over HTTP/2
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Over H2'))
--- error_code: 200
--- response_body: {"success":true}
--- kochava eval: json([kochava_event('Over H2')])



=== TEST 2: a batch over HTTP/2: every message forwarded
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n"
    . json({batch => [map { android_track("H2 Batch $_") } 1 .. 5]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("H2 Batch $_") } 1 .. 5])



=== TEST 3: a gzipped batch over HTTP/2
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers
Content-Encoding: gzip
--- request eval
"POST /v1/batch\n"
    . gzipped(json({batch => [android_track('H2 Zipped')], writeKey => KEY}))
--- error_code: 200
--- kochava eval: json([kochava_event('H2 Zipped')])



=== TEST 4: a body nginx writes to a temporary file (1 KB buffer, 40 messages)
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('client_body_buffer_size 1k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n"
    . json({batch => [map { android_track("H2 File $_") } 1 .. 40]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("H2 File $_") } 1 .. 40])
--- error_log
a client request body is buffered to a temporary file
--- log_level: notice



=== TEST 5: async over HTTP/2: answered, then delivered
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_delivery async; kochava_spool spool;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n"
    . json({batch => [map { android_track("H2 Async $_") } 1 .. 3]})
--- error_code: 200
--- kochava eval: json([map { kochava_event("H2 Async $_") } 1 .. 3])
--- spool: []



=== TEST 6: a client that resets the stream mid-body: nothing of it forwarded, no alert, the next stream served
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- init
package main;
h2_reset_mid_body(port => $ENV{TEST_NGINX_SERVER_PORT}, path => '/v1/batch',
    headers => [[authorization => basic_auth(KEY)]],
    body => json({batch => [map { android_track("H2 Reset $_") } 1 .. 200]}),
    send => 20000);
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('After Reset'))
--- error_code: 200
--- kochava eval: json([kochava_event('After Reset')])
--- log_level: info
--- error_log
client canceled stream 1
--- no_error_log
[alert]
[crit]
[emerg]
signal 11



=== TEST 7: an HTTP/2 client that goes away mid-fan-out: all 100 delivered and recorded for de-dup (was 10-20)
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
my $mock = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 1;
ingest_config('kochava_dedup ids; kochava_concurrency 10;') . qq{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$mock/_mock/kochava/slow;
    }
    location = /metrics {
        kochava_status;
    }
}
--- init
package main;
client_gone_after(port => $ENV{TEST_NGINX_SERVER_PORT}, path => '/v1/batch',
    http2 => 1, after => 0.5, wait => 3.5,
    headers => [[authorization => basic_auth(KEY)]],
    body => json({batch => [map { android_track("H2 Gone $_") } 1 .. 100]}));
--- request
GET /metrics
--- error_code: 200
--- kochava eval: json([map { kochava_event("H2 Gone $_") } 1 .. 100])
--- metrics
kochava_dedup_entries{zone="ids"} 100
kochava_upstream_requests_total{destination="kochava",result="ok"} 100
kochava_upstream_in_flight 0



=== TEST 8: an HTTP/1.1 client that goes away mid-fan-out: the same
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
my $mock = '$TEST_NGINX_SERVER_PORT';
ingest_config('kochava_dedup ids; kochava_concurrency 10;') . qq{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$mock/_mock/kochava/slow;
    }
    location = /metrics {
        kochava_status;
    }
}
--- init
package main;
client_gone_after(port => $ENV{TEST_NGINX_SERVER_PORT}, path => '/v1/batch',
    http2 => 0, after => 0.5, wait => 3.5,
    headers => [[authorization => basic_auth(KEY)]],
    body => json({batch => [map { android_track("H1 Gone $_") } 1 .. 100]}));
--- request
GET /metrics
--- error_code: 200
--- kochava eval: json([map { kochava_event("H1 Gone $_") } 1 .. 100])
--- metrics
kochava_dedup_entries{zone="ids"} 100
kochava_upstream_requests_total{destination="kochava",result="ok"} 100
kochava_upstream_in_flight 0



=== TEST 9: HTTP/2, gone while its batch waits for worker slots (kochava_worker_concurrency 4): all 20 delivered (was 14 of 60)
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
    kochava_worker_concurrency 4;
--- no_kochava_defaults: /_kochava/track
--- config eval
my $mock = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 1;
ingest_config('kochava_dedup ids; kochava_concurrency 10;') . qq{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$mock/_mock/kochava/slow;
    }
    location = /metrics {
        kochava_status;
    }
}
--- init
package main;
client_gone_after(port => $ENV{TEST_NGINX_SERVER_PORT}, path => '/v1/batch',
    http2 => 1, after => 0.5, wait => 2.5,
    headers => [[authorization => basic_auth(KEY)]],
    body => json({batch => [map { android_track("H2 Slots $_") } 1 .. 20]}));
--- request
GET /metrics
--- error_code: 200
--- kochava eval: json([map { kochava_event("H2 Slots $_") } 1 .. 20])
--- metrics
kochava_dedup_entries{zone="ids"} 20
kochava_upstream_requests_total{destination="kochava",result="ok"} 20
kochava_upstream_in_flight 0
