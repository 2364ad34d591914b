# Async delivery: the client is answered 200 once the body is valid; the
# fan-out runs detached from its connection; what fails and may succeed
# later is in the spool.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: async, upstream up: 200 at once, the same Kochava body as sync
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Async Hello', messageId => 'async-1'))
--- error_code: 200
--- response_body chomp
{"success":true}
--- kochava eval
json([kochava_event('Async Hello')])
--- spool
[]
--- wait: 1
--- error_log
kochava: async fan-out of 1 requests over: 1 delivered, 0 refused, 0 failed, 0 of them spooled



=== TEST 2: async, upstream down (503): 200 to the client, the exact body spooled
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    android_track('Down One', type => 'track'),
    android_track('x', type => 'alias', userId => 'u-1', previousId => 'p-1'),
]})
--- error_code: 200
--- response_body chomp
{"success":true}
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => kochava_event('Down One')},
  {dest => 'kochava_identity', uri => '/_kochava/identity', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => {'$any' => 1}},
])
--- error_log
kochava: async fan-out of 2 requests over: 0 delivered, 0 refused, 2 failed, 2 of them spooled



=== TEST 3: async, upstream refused and timed out: spooled as "502 no answer" and "timeout"
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:1/refused;
    }
    location /_kochava/identity {
        internal;
        proxy_read_timeout 200ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    android_track('Refused'),
    android_track('x', type => 'identify', userId => 'u-2'),
]})
--- error_code: 200
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '502 no answer',
   body => kochava_event('Refused')},
  {dest => 'kochava_identity', uri => '/_kochava/identity', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => 'timeout',
   body => {'$any' => 1}},
])
--- error_log
kochava: async fan-out of 2 requests over: 0 delivered, 0 refused, 2 failed, 2 of them spooled



=== TEST 4: a permanent failure is not spooled (retrying cannot help)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava_no;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Refused By Kochava'))
--- error_code: 200
--- spool
[]
--- wait: 1
--- error_log
kochava: kochava refused message 0 with 200, not retried
0 delivered, 1 refused, 0 failed, 0 of them spooled



=== TEST 5: keepalive: the second request is answered while the first one's upstream still sleeps
The upstream takes 2 s; the client gives the whole exchange 1 s. In sync
mode (or with background subrequests on the client's request) the second
response would wait behind the first fan-out and the test would time out.
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
    location = /ping {
        return 200 "pong\n";
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- pipelined_requests eval
["POST /v1/track\n" . json(android_track('Slow One')), "GET /ping"]
--- timeout: 1
--- error_code eval
[200, 200]
--- response_body eval
["{\"success\":true}", "pong\n"]
--- no_error_log
[error]
[alert]



=== TEST 6: the async fan-out finishes after the client has gone
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('After The Client'))
--- error_code: 200
--- wait: 2.5
--- error_log
kochava: async fan-out of 1 requests over: 1 delivered, 0 refused, 0 failed, 0 of them spooled



=== TEST 7: async needs a spool
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async;')
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_delivery async" needs "kochava_spool"
--- no_error_log
[alert]



=== TEST 8: sync with a spool: a retryable failure is spooled and answered 200
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/500;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Sync Spooled'))
--- error_code: 200
--- response_body chomp
{"success":true}
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '500',
   body => kochava_event('Sync Spooled')},
])
--- error_log
were spooled, answered 200



=== TEST 9: async, a spool full past max_size: dropped, counted, logged at error
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool max_size=100;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Too Much'))
--- error_code: 200
--- spool
[]
--- wait: 1
--- error_log eval
[qr/\[error\].*kochava: spool ".*spool" is full \(max_size 100\), a kochava request was dropped/,
 "0 delivered, 0 refused, 1 failed, 0 of them spooled"]



=== TEST 10: an answer cut short after its header is retryable, not fatal
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_partial;
    }
    location = /_partial {
        echo -n '{"succ';
        echo_flush;
        echo_sleep 2;
        echo '"}';
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Cut Short'))
--- error_code: 200
--- wait: 0.5
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => 'no answer',
   body => kochava_event('Cut Short')},
])
--- error_log
1 failed, 1 of them spooled



=== TEST 11: async: metrics account for every message, spooled or delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/identity;
    }
    location = /pause { echo_sleep 0.3; echo ok; }
    location = /metrics { kochava_status; }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n" . json({batch => [
    android_track('Fails One'), android_track('Fails Two'),
    android_track('x', type => 'identify', userId => 'u-3'),
 ]}),
 "GET /pause", "GET /metrics"]
--- error_code eval: [200, 200, 200]
--- metrics
kochava_messages_received_total{type="track"} 2
kochava_messages_received_total{type="identify"} 1
kochava_messages_accepted_total 3
kochava_upstream_requests_total{destination="kochava",result="retryable"} 2
kochava_upstream_requests_total{destination="kochava_identity",result="ok"} 1
kochava_spool_records_total 2
kochava_spool_dropped_total 0
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => kochava_event('Fails One')},
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => kochava_event('Fails Two')},
])



=== TEST 12: async + de-duplication: a message on disk is not spooled again when the SDK resends it
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone async_ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_dedup async_ids;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location = /pause { echo_sleep 0.3; echo ok; }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Once On Disk', messageId => 'dedup-async-1')),
 "GET /pause",
 "POST /v1/track\n" . json(android_track('Once On Disk', messageId => 'dedup-async-1'))]
--- error_code eval: [200, 200, 200]
--- response_headers eval
["", "", "X-Kochava: m=1 a=1 r=0 s=0 o=0"]
--- spool eval
json([
  {dest => 'kochava', uri => '/_kochava/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => kochava_event('Once On Disk')},
])



=== TEST 13: async fault matrix: 500, 429 with Retry-After and a non-JSON 200 are spooled
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
(join '', map { qq{
    location /f$_/v1/ {
        kochava_ingest;
        kochava_app_id \$kochava_app;
        kochava_pass /_fault$_;
        kochava_delivery async;
        kochava_spool spool;
    }
} } qw(500 429 html)) . q{
    location /_fault500 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/500;
    }
    location /_fault429 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_429;
    }
    location = /_429 {
        add_header Retry-After 30 always;
        return 429 '{"error":"slow down"}';
    }
    location /_faulthtml {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/notjson;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /f500/v1/track\n" . json(android_track('F500')),
 "POST /f429/v1/track\n" . json(android_track('F429')),
 "POST /fhtml/v1/track\n" . json(android_track('FHtml'))]
--- error_code eval: [200, 200, 200]
--- spool eval
json([
  {dest => 'kochava', uri => '/_fault500', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '500',
   body => kochava_event('F500')},
  {dest => 'kochava', uri => '/_fault429', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '429',
   body => kochava_event('F429')},
  {dest => 'kochava', uri => '/_faulthtml', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '200 not json',
   body => kochava_event('FHtml')},
])



=== TEST 14: an async postback location: Braze down, the Braze body is spooled, the partner gets 200
Braze is another server with its own error log at info, so that its debug
lines of incoming headers do not count: the key must appear nowhere in the
edge's debug log, the detached fan-out's included.
--- http_config
    server {
        listen unix:/tmp/kochava-test-braze-async-$TEST_NGINX_SERVER_PORT.sock;
        error_log logs/braze-mock.log info;
        location / {
            return 503 '{"message":"busy"}';
        }
    }
--- no_kochava_defaults
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
        kochava_delivery async;
        kochava_spool spool;
    }
    location /_braze/track {
        internal;
        proxy_set_header Authorization "Bearer braze-secret-rest-key";
        proxy_pass http://unix:/tmp/kochava-test-braze-async-$TEST_NGINX_SERVER_PORT.sock:/users/track;
    }
--- log_level: debug
--- request
GET /postback/tune?advertiser_sub_publisher=Facebook&advertiser_sub_campaign=Spring%20Sale&user_id=c0ffee-43
--- error_code: 200
--- response_body chomp
{"success":true}
--- spool eval
json([
  {dest => 'braze', uri => '/_braze/track', attempts => 1,
   first_failed => {'$near_now' => 0}, last_error => '503',
   body => braze_body([user_alias => {alias_name => 'c0ffee-43', alias_label => 'braze_install_tracking_id'},
                       provider => 'Tune', source => 'Facebook', campaign => 'Spring Sale',
                       time => {'$near_now' => 0}])},
])
--- no_error_log
braze-secret-rest-key
[alert]



=== TEST 15: async fault matrix: Kochava's "0" (refused) is not spooled
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava_no;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('FNo'))
--- error_code: 200
--- spool: []
--- error_log
kochava: kochava refused message 0 with 200, not retried
