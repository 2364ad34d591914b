# kochava_status: Prometheus text exposition of the shared metrics zone,
# counters moving as traffic flows.  nginx restarts between blocks whose
# configurations differ, so every block starts from zero.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: a batch: received by type, accepted, rejected, skipped, upstream results and durations
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config() . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
my $anon = android_track('No Id');
delete $anon->{anonymousId};
["POST /v1/batch\n" . json({batch => [
    android_track('A'),
    android_track('B'),
    android_track('C', integrations => {Kochava => JSON::PP::false}),
    $anon,
    android_track('x', type => 'page', name => 'Home', event => undef),
    android_track('x', type => 'alias', userId => 'u1', previousId => 'p1', event => undef),
]}),
"GET /metrics"]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Kochava: m=6 a=5 r=1 s=1 o=4", "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- metrics
# TYPE kochava_messages_received_total counter
kochava_messages_received_total{type="track"} 4
kochava_messages_received_total{type="identify"} 0
kochava_messages_received_total{type="page"} 1
kochava_messages_received_total{type="screen"} 0
kochava_messages_received_total{type="group"} 0
kochava_messages_received_total{type="alias"} 1
kochava_messages_accepted_total 5
kochava_messages_rejected_total{reason="identity"} 1
kochava_messages_rejected_total{reason="device"} 0
kochava_messages_skipped_total 1
kochava_messages_deduplicated_total{where="batch"} 0
kochava_messages_deduplicated_total{where="local"} 0
kochava_messages_deduplicated_total{where="store"} 0
# TYPE kochava_upstream_requests_total counter
kochava_upstream_requests_total{destination="kochava",result="ok"} 3
kochava_upstream_requests_total{destination="kochava",result="retryable"} 0
kochava_upstream_requests_total{destination="kochava_identity",result="ok"} 1
kochava_upstream_requests_total{destination="braze",result="ok"} 0
# TYPE kochava_upstream_duration_seconds histogram
kochava_upstream_duration_seconds_bucket{destination="kochava",le="10"} 3
kochava_upstream_duration_seconds_bucket{destination="kochava",le="+Inf"} 3
kochava_upstream_duration_seconds_count{destination="kochava"} 3
kochava_upstream_duration_seconds_count{destination="kochava_identity"} 1
kochava_upstream_duration_seconds_count{destination="braze"} 0
kochava_requests_total{status="200"} 1
kochava_spool_records_total 0
kochava_spool_dropped_total 0
kochava_spool_bytes 0



=== TEST 2: upstream 503 and 400: retryable and permanent by destination; client answers by status; reasons
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config eval
ingest_config() . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/400;
    }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, $auth, "Authorization: " . basic_auth('wk_nope'), $auth, ""]
--- request eval
my $nodev = android_track('No Device');
delete $nodev->{context}{device}{id};
["POST /v1/track\n" . json(android_track('Down')),
 "POST /v1/alias\n" . json(android_track('x', userId => 'u', previousId => 'p', event => undef)),
 "POST /v1/track\n" . json($nodev),
 "POST /v1/track\n" . json(android_track('Bad Key')),
 "GET /v1/track",
 "GET /metrics"]
--- error_code eval: [503, 200, 400, 401, 405, 200]
--- metrics
kochava_upstream_requests_total{destination="kochava",result="ok"} 0
kochava_upstream_requests_total{destination="kochava",result="retryable"} 1
kochava_upstream_requests_total{destination="kochava",result="permanent"} 0
kochava_upstream_requests_total{destination="kochava_identity",result="permanent"} 1
kochava_upstream_requests_total{destination="kochava_identity",result="ok"} 0
kochava_messages_received_total{type="track"} 2
kochava_messages_received_total{type="alias"} 1
kochava_messages_accepted_total 2
kochava_messages_rejected_total{reason="device"} 1
kochava_requests_total{status="200"} 1
kochava_requests_total{status="400"} 1
kochava_requests_total{status="401"} 1
kochava_requests_total{status="405"} 1
kochava_requests_total{status="503"} 1
kochava_requests_total{status="other"} 0
kochava_upstream_duration_seconds_count{destination="kochava"} 1
kochava_upstream_duration_seconds_count{destination="kochava_identity"} 1
--- error_log
kochava: kochava failed for message 0 with 503 (retryable)



=== TEST 3: a time-out: result "timeout", and the histogram puts it between 0.25 and 0.5 s
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config() . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), ""]
--- request eval
["POST /v1/track\n" . json(android_track('Slow')), "GET /metrics"]
--- error_code eval: [503, 200]
--- metrics
kochava_upstream_requests_total{destination="kochava",result="timeout"} 1
kochava_upstream_requests_total{destination="kochava",result="retryable"} 0
kochava_upstream_duration_seconds_bucket{destination="kochava",le="0.25"} 0
kochava_upstream_duration_seconds_bucket{destination="kochava",le="0.5"} 1
kochava_upstream_duration_seconds_bucket{destination="kochava",le="+Inf"} 1
kochava_upstream_duration_seconds_count{destination="kochava"} 1
kochava_requests_total{status="503"} 1
--- response_body_like eval
[qr/Upstream unavailable/, qr/^kochava_upstream_duration_seconds_sum\{destination="kochava"\} 0\.(2[5-9]|3|4)\d*$/m]
--- error_log
(timeout)
--- timeout: 5



=== TEST 4: Braze: attributed and organic installs from a batch and postbacks (tracks too), Braze requests by result
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_braze_pass /_braze/track;') . q{
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
    location = /metrics { kochava_status; }
}
--- more_headers eval
["Authorization: " . basic_auth(KEY), "", "", ""]
--- request eval
["POST /v1/batch\n" . json({batch => [
    install_attributed('u1', source => 'Facebook'),
    install_attributed('u2', source => 'Organic'),
    install_attributed('u3', source => 'AdWords'),
]}),
"GET /postback/tune?advertiser_sub_publisher=Facebook&user_id=u4",
"GET /postback/tune?advertiser_sub_publisher=organic&user_id=u5",
"GET /metrics"]
--- error_code eval: [200, 200, 200, 200]
--- metrics
kochava_braze_installs_total{attribution="attributed"} 3
kochava_braze_installs_total{attribution="organic"} 2
kochava_upstream_requests_total{destination="braze",result="ok"} 2
kochava_upstream_requests_total{destination="kochava",result="ok"} 0
kochava_upstream_duration_seconds_count{destination="braze"} 2
kochava_messages_received_total{type="track"} 5
kochava_messages_accepted_total 5
kochava_messages_skipped_total 2
kochava_requests_total{status="200"} 3



=== TEST 5: a status location alone makes the zone; GET and HEAD only; HELP and TYPE for every family
--- config
    location = /metrics { kochava_status; }
--- request eval
["GET /metrics", "HEAD /metrics", "POST /metrics\nx", "DELETE /metrics"]
--- error_code eval: [200, 200, 405, 405]
--- response_headers eval
["Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/html", "Content-Type: text/html"]
--- response_body_like eval
[qr/\A# HELP kochava_messages_received_total .+\n# TYPE kochava_messages_received_total counter\n/, qr/\A\z/, qr/405/, qr/405/]



=== TEST 6: every family has its HELP and TYPE once, every series is "name{labels} number"
--- config
    location = /metrics { kochava_status; }
    # block 6
--- request
GET /metrics
--- response_body_like eval
my @families = qw(kochava_messages_received_total kochava_messages_accepted_total
    kochava_messages_rejected_total kochava_messages_skipped_total
    kochava_messages_deduplicated_total kochava_upstream_requests_total
    kochava_upstream_duration_seconds kochava_spool_records_total
    kochava_spool_dropped_total kochava_spool_bytes kochava_braze_installs_total
    kochava_requests_total kochava_dedup_evicted_total kochava_dedup_entries);
my $re = join '', map { "(?=.*^# HELP $_ \\S.*\\n# TYPE $_ (counter|gauge|histogram)\$)" } @families;
qr/\A(?s)$re(?-s)(?:(?:# (HELP|TYPE) \w+ .+|kochava_\w+(\{(\w+="[^"]*",?)+\})? \d+(\.\d+)?)\n)+\z/m
--- metrics
kochava_messages_rejected_total{reason="not_object"} 0
kochava_messages_rejected_total{reason="type"} 0
kochava_messages_rejected_total{reason="identity"} 0
kochava_messages_rejected_total{reason="field"} 0
kochava_messages_rejected_total{reason="timestamp"} 0
kochava_messages_rejected_total{reason="message_id"} 0
kochava_messages_rejected_total{reason="device"} 0
kochava_messages_rejected_total{reason="too_large"} 0
kochava_messages_rejected_total{reason="too_deep"} 0
kochava_messages_rejected_total{reason="braze_user"} 0
kochava_upstream_requests_total{destination="braze",result="timeout"} 0
kochava_upstream_duration_seconds_bucket{destination="braze",le="0.005"} 0
kochava_upstream_duration_seconds_sum{destination="braze"} 0.000
kochava_dedup_evicted_total 0
