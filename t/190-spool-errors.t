# Errors of the spool that come once per message or per request (a spool
# at max_size, a directory that is gone, the async backlog full): logged
# at most once a second per worker, spool and kind, with the count of the
# lines not logged; every one counted in kochava_status.  The full disk
# itself (write() failing, nginx's body buffering) is t/195-full-disk.t.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;
use t::LogLimit;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a spool at max_size: 200 records dropped, a few lines, each drop counted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async;
               kochava_spool spool max_size=1 interval=1s;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location = /pause { echo_sleep 1.2; echo ok; }
    location = /flush { echo_sleep 2.5; echo ok; }
    location = /metrics { kochava_status; }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $batch = "POST /v1/batch\n"
    . json({batch => [map { android_track("Full $_") } 1 .. 100]});
[$batch, "GET /pause", $batch, "GET /flush", "GET /metrics"]
--- error_code eval: [200, 200, 200, 200, 200]
--- spool
[]
--- metrics
kochava_spool_dropped_total 200
kochava_spool_records_total 0
kochava_unjournaled_total 200
kochava_upstream_requests_total{destination="kochava",result="retryable"} 200
--- log_limited eval
[[qr/spool ".*spool".*is full.*request was dropped/, 200, 4],
 [qr/spool ".*spool".*is full.*without their journal/, 2, 2]]



=== TEST 2: the spool directory removed under nginx: no file can be made, 202 times, a few lines
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async;
               kochava_spool spool interval=1s;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location = /pause { echo_sleep 1.2; echo ok; }
    location = /flush { echo_sleep 2.5; echo ok; }
    location = /metrics { kochava_status; }
}
--- init
File::Path::remove_tree(Test::Nginx::Util::server_root() . "/spool");
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $batch = "POST /v1/batch\n"
    . json({batch => [map { android_track("Gone $_") } 1 .. 100]});
[$batch, "GET /pause", $batch, "GET /flush", "GET /metrics"]
--- error_code eval: [200, 200, 200, 200, 200]
--- metrics
kochava_spool_dropped_total 200
kochava_unjournaled_total 200
--- log_limited eval
[qr/nothing can be spooled/, 202, 4]



=== TEST 3: the async backlog full: "fan-out not started" at most once a second, with the count
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async; kochava_async_backlog 1;
               kochava_spool spool;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
    location = /pause { echo_sleep 1.2; echo ok; }
    location = /metrics { kochava_status; }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my @tracks = map { "POST /v1/track\n" . json(android_track("Backlog $_")) }
             1 .. 11;
[@tracks[0 .. 9], "GET /pause", $tracks[10], "GET /metrics"]
--- error_code eval: [(200) x 13]
--- kochava: []
--- metrics
kochava_spool_records_total 11
kochava_journal_records_total 11
--- log_limited eval
[qr/async fan-out not started \(async backlog full\)/, 11, 3]
