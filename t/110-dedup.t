# De-duplication by messageId: kochava_dedup_zone / kochava_dedup.  A
# message whose client messageId was delivered (or refused for good) is
# acknowledged and not forwarded again; generated ids are never recorded.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

repeat_each(1);
no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: the same batch twice: the second forwards nothing and answers 200
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, ""]
--- request eval
my $body = json({batch => [android_track('A'), android_track('B'),
    android_track('x', type => 'alias', userId => 'u1', previousId => 'p1', event => undef)]});
["POST /v1/batch\n$body", "POST /v1/batch\n$body", "GET /metrics"]
--- error_code eval: [200, 200, 200]
--- response_headers eval
["X-Kochava: m=3 a=3 r=0 s=0 o=3\nX-Dedup: 0", "X-Kochava: m=3 a=3 r=0 s=0 o=0\nX-Dedup: 3", ""]
--- response_body_like eval
[qr/^\{"success":true\}$/, qr/^\{"success":true\}$/, qr/kochava_messages_deduplicated_total\{where="local"\} 3/]
--- kochava eval: json([kochava_event('A'), kochava_event('B')])
--- metrics
kochava_messages_received_total{type="track"} 4
kochava_messages_received_total{type="alias"} 2
kochava_messages_accepted_total 6
kochava_messages_deduplicated_total{where="local"} 3
kochava_messages_skipped_total 0
kochava_upstream_requests_total{destination="kochava",result="ok"} 2
kochava_upstream_requests_total{destination="kochava_identity",result="ok"} 1
# TYPE kochava_dedup_entries gauge
kochava_dedup_entries{zone="ids"} 3



=== TEST 2: a retry after a 503 where part was delivered forwards only the part that failed
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    map $request_uri $identity_mock { /v1/batch?try=1 /_mock/fail/503; default /_mock/identity; }
    kochava_dedup_zone ids:1m;
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
    location /_kochava/identity {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$identity_mock;
    }
}
--- no_kochava_defaults
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, ""]
--- request eval
my $body = json({batch => [android_track('A'), android_track('B'),
    android_track('x', type => 'alias', userId => 'u1', previousId => 'p1', event => undef)]});
["POST /v1/batch?try=1\n$body", "POST /v1/batch?try=2\n$body", "GET /metrics"]
--- error_code eval: [503, 200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Kochava: m=3 a=3 r=0 s=0 o=1\nX-Dedup: 2", ""]
--- kochava eval: json([kochava_event('A'), kochava_event('B')])
--- kochava_identity eval
json([{kochava_app_id => GUID,
       device_id => {adid => '38400000-8cf0-11bd-b23e-10b96e40000d', android_id => 'a1b2c3d4e5f60718'},
       data => {user_id => 'u1', previous_id => 'p1'}}])
--- metrics
kochava_messages_deduplicated_total{where="local"} 2
kochava_upstream_requests_total{destination="kochava",result="ok"} 2
kochava_upstream_requests_total{destination="kochava_identity",result="retryable"} 1
kochava_upstream_requests_total{destination="kochava_identity",result="ok"} 1
kochava_requests_total{status="503"} 1
kochava_requests_total{status="200"} 1
--- error_log
kochava: identity failed for message 2 with 503 (retryable)



=== TEST 3: generated messageIds are never recorded: the same message without one is forwarded twice
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval: ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;')
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth]
--- request eval
my $m = android_track('No Id');
delete $m->{messageId};
["POST /v1/track\n" . json($m), "POST /v1/track\n" . json($m)]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 0"]
--- kochava eval: json([kochava_event('No Id'), kochava_event('No Id')])



=== TEST 4: a permanent refusal is recorded too: not sent again
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/400;
    }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth]
--- request eval
["POST /v1/track\n" . json(android_track('Refused')), "POST /v1/track\n" . json(android_track('Refused'))]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 1"]
--- upstream_requests_like: "uri":"/_mock/fail/400"
--- error_log
kochava: kochava refused message 0 with 400, not retried



=== TEST 5: "kochava_dedup off" in a location cancels the server's
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
"    kochava_dedup ids;\n" . ingest_config('kochava_dedup off; add_header X-Dedup $kochava_deduplicated always;')
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth]
--- request eval
["POST /v1/track\n" . json(android_track('Twice')), "POST /v1/track\n" . json(android_track('Twice'))]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 0"]
--- kochava eval: json([kochava_event('Twice'), kochava_event('Twice')])



=== TEST 6: inherited from the server level; the same messageId of another App GUID is another message
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; wk_test_2 other-app-guid; }
    kochava_dedup_zone ids:1m ttl=1h;
--- config eval
"    kochava_dedup ids;\n" . ingest_config('add_header X-Dedup $kochava_deduplicated always;')
--- more_headers eval
["Authorization: " . basic_auth(KEY), "Authorization: " . basic_auth('wk_test_2'),
 "Authorization: " . basic_auth(KEY), "Authorization: " . basic_auth('wk_test_2')]
--- request eval
my $body = "POST /v1/track\n" . json(android_track('Shared Id'));
[$body, $body, $body, $body]
--- error_code eval: [200, 200, 200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 0", "X-Dedup: 1", "X-Dedup: 1"]
--- kochava eval
json([kochava_event('Shared Id'), {%{kochava_event('Shared Id')}, kochava_app_id => 'other-app-guid'}])



=== TEST 7: Braze: installs of one request share an outbound request; a later batch sends only the new ones
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
ingest_config('kochava_braze_pass /_braze/track; kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;')
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth]
--- request eval
my $u3 = install_attributed('u3', source => 'S');
delete $u3->{messageId};
["POST /v1/batch\n" . json({batch => [install_attributed('u1', source => 'S'), install_attributed('u2', source => 'S')]}),
 "POST /v1/batch\n" . json({batch => [install_attributed('u1', source => 'S'), install_attributed('u2', source => 'S'), $u3]})]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 2"]
--- braze eval
json([braze_body([external_id => 'u1', source => 'S'], [external_id => 'u2', source => 'S']),
      braze_body([external_id => 'u3', source => 'S'])])



=== TEST 8: a zone too small for a batch evicts its least recently used entries and keeps working
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone tiny:32k;
--- config eval
ingest_config('kochava_dedup tiny; kochava_concurrency 16; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, $auth, ""]
--- request eval
my @m = map { android_track("E$_") } 1 .. 600;
["POST /v1/batch\n" . json({batch => \@m}),
 "POST /v1/batch\n" . json({batch => [@m[590 .. 599]]}),
 "POST /v1/batch\n" . json({batch => [@m[0 .. 9]]}),
 "GET /metrics"]
--- error_code eval: [200, 200, 200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 10", "X-Dedup: 0", ""]
--- response_body_like eval
[qr/^\{"success":true\}$/, qr/^\{"success":true\}$/, qr/^\{"success":true\}$/,
 qr/^kochava_dedup_evicted_total [1-9]\d*\n(?s:.*)^kochava_dedup_entries\{zone="tiny"\} [1-9]\d\d?$/m]
--- metrics
kochava_messages_deduplicated_total{where="local"} 10
kochava_upstream_requests_total{destination="kochava",result="ok"} 610
--- error_log
kochava: dedup zone "tiny" is full
--- no_error_log
[alert]
[crit]
[emerg]
--- timeout: 20



=== TEST 9: the same messageId three times in one batch: the first copy is forwarded, the others are de-duplicated, not rejected
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, ""]
--- request eval
my $body = json({batch => [android_track('Thrice'), android_track('Once'),
                           android_track('Thrice'), android_track('Thrice')]});
["POST /v1/batch\n$body", "GET /metrics"]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Kochava: m=4 a=4 r=0 s=0 o=2\nX-Dedup: 2", ""]
--- response_body_like eval
[qr/^\{"success":true\}$/, qr/kochava_messages_deduplicated_total\{where="batch"\} 2/]
--- kochava eval: json([kochava_event('Thrice'), kochava_event('Once')])
--- metrics
kochava_messages_accepted_total 4
kochava_messages_rejected_total{reason="message_id"} 0
kochava_messages_deduplicated_total{where="batch"} 2
kochava_messages_deduplicated_total{where="local"} 0
kochava_upstream_requests_total{destination="kochava",result="ok"} 2
kochava_dedup_entries{zone="ids"} 2



=== TEST 10: sync: a copy sent while the first waits on a slow upstream gets 503 + Retry-After; once the first is delivered, a copy is de-duplicated
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- init
t::TestKochava::background_post('/v1/track',
    'Authorization: ' . main::basic_auth(main::KEY()),
    main::json(main::android_track('Slow')));
sleep 1;
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, ""]
--- request eval
my $body = "POST /v1/track\n" . json(android_track('Slow'));
[$body, $body, "GET /metrics"]
--- wait: 2.5
--- error_code eval: [503, 200, 200]
--- response_headers eval
["Retry-After: 10\nX-Dedup: 0\nX-Kochava: m=1 a=1 r=0 s=0 o=0", "X-Dedup: 1", ""]
--- response_body eval
[qq{{"success":false,"message":"Message in flight"}}, qq{{"success":true}}, qr/.*/]
--- metrics
kochava_upstream_requests_total{destination="kochava",result="ok"} 1
kochava_requests_total{status="503"} 1
kochava_requests_total{status="200"} 2
kochava_messages_deduplicated_total{where="local"} 1
--- error_log
kochava: 1 messages not sent, a copy of each is in flight under another request: answered 503
--- timeout: 10



=== TEST 11: sync: a retryable failure releases the id, so the retry is forwarded; exactly one copy is delivered in the end
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    map $request_uri $kochava_mock { /v1/track?try=1 /_mock/fail/503; default /_mock/kochava; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$kochava_mock;
    }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, $auth, ""]
--- request eval
my $body = json(android_track('Failing'));
["POST /v1/track?try=1\n$body", "POST /v1/track?try=2\n$body", "POST /v1/track?try=3\n$body", "GET /metrics"]
--- error_code eval: [503, 200, 200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 0\nX-Kochava: m=1 a=1 r=0 s=0 o=1", "X-Dedup: 1", ""]
--- kochava eval: json([kochava_event('Failing')])
--- metrics
kochava_upstream_requests_total{destination="kochava",result="retryable"} 1
kochava_upstream_requests_total{destination="kochava",result="ok"} 1
kochava_dedup_entries{zone="ids"} 1
--- error_log
kochava: kochava failed for message 0 with 503 (retryable)



=== TEST 12: async: a copy sent while the first is in flight is de-duplicated (answered 200, not forwarded)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- pipelined_requests eval
my $body = json(android_track('In Flight'));
["POST /v1/track\n$body", "POST /v1/track\n$body"]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 1"]
--- wait: 1
--- kochava eval: json([kochava_event('In Flight')])
--- spool: []



=== TEST 13: async without its journal (the spool is full): a copy meeting the first's reservation is de-duplicated too
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool max_size=1; kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava/slow;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- pipelined_requests eval
my $body = json(android_track('Unjournaled'));
["POST /v1/track\n$body", "POST /v1/track\n$body"]
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 1"]
--- wait: 1
--- kochava eval: json([kochava_event('Unjournaled')])
--- error_log
accepted without their journal



=== TEST 14: async: a journaled message is confirmed before the answer: a copy after its reservation would have expired, while the first is still in flight, is de-duplicated
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m reserve=1s;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth]
--- request eval
my $body = "POST /v1/track\n" . json(android_track('Journaled'));
[$body, $body]
--- wait: 1.5
--- error_code eval: [200, 200]
--- response_headers eval
["X-Dedup: 0", "X-Dedup: 1"]
--- spool: []



=== TEST 15: sync: a batch whose one message is in flight under another request: the others are delivered, the answer is 503; the retry then forwards nothing
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    kochava_dedup_zone ids:1m;
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_dedup ids; add_header X-Dedup $kochava_deduplicated always;') . q{
    location = /metrics { kochava_status; }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/slow;
    }
}
--- init
t::TestKochava::background_post('/v1/track',
    'Authorization: ' . main::basic_auth(main::KEY()),
    main::json(main::android_track('Slow')));
sleep 1;
--- more_headers eval
my $auth = "Authorization: " . basic_auth(KEY);
[$auth, $auth, ""]
--- request eval
my $body = "POST /v1/batch\n" . json({batch => [android_track('Slow'), android_track('Fresh')]});
[$body, $body, "GET /metrics"]
--- error_code eval: [503, 200, 200]
--- response_headers eval
["Retry-After: 10\nX-Dedup: 0\nX-Kochava: m=2 a=2 r=0 s=0 o=1", "X-Dedup: 2\nX-Kochava: m=2 a=2 r=0 s=0 o=0", ""]
--- response_body eval
[qq{{"success":false,"message":"Message in flight"}}, qq{{"success":true}}, qr/.*/]
--- metrics
kochava_upstream_requests_total{destination="kochava",result="ok"} 2
kochava_requests_total{status="503"} 1
kochava_messages_deduplicated_total{where="local"} 2
--- error_log
kochava: 1 messages not sent, a copy of each is in flight under another request: answered 503
--- timeout: 10
