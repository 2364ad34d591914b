# Bounds by default: one HTTP/2 connection carries many streams, each a
# batch with its own fan-out, and must not take the worker's connections.
# The edge of the finding (F6): one worker, worker_connections 512 (nginx's
# default), sync delivery, 100 concurrent streams of batches of 20 from
# h2load.  At the module's defaults (kochava_worker_concurrency a quarter
# of worker_connections: 128) every batch is answered 200 and every
# message reaches the sink; with the bound lifted ("off") the worker runs
# out of connections, as it did before the default.
#
# The sink is a "return" in a server of its own (TEST_NGINX_SERVER_PORT +
# 2) that logs one line per request: two connections per message in
# flight, the edge's and the sink's, where t::TestKochava's recording mock
# takes four and could not hold 8,000 bodies to compare anyway.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;

worker_connections(512);

repeat_each(1);
no_shuffle();
run_tests();

# the sink's server and the pass location to it, for --- http_config
sub sink_config {
    my $port = $ENV{TEST_NGINX_SERVER_PORT} + 2;
    return <<"EOF";
    map \$kochava_write_key \$kochava_app { default ""; wk_test_1 koexample-app-guid; }
    log_format sink_line '\$request_uri';
    server {
        listen 127.0.0.1:$port;
        location / {
            access_log logs/sink.log sink_line;
            default_type application/json;
            return 200 '{"success":"1"}';
        }
    }
EOF
}

sub sink_pass_config {
    my $port = $ENV{TEST_NGINX_SERVER_PORT} + 2;
    return ingest_config() . <<"EOF";
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$port/track/json;
    }
    location = /metrics { kochava_status; }
EOF
}

# h2load: one connection, 100 streams at once, 400 batches of 20; returns
# its counts of 2xx and 5xx answers and the lines the sink logged
sub h2load_batches {
    my $root = Test::Nginx::Util::server_root();
    my $body = "$root/logs/batch20.json";

    open my $out, '>', $body or die "$body: $!";
    print $out json({batch => [map { android_track("H2 Bound $_") } 1 .. 20]});
    close $out;

    my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/v1/batch";
    my $auth = basic_auth(KEY);
    my $report = `timeout 60 h2load -n 400 -c 1 -m 100 -d '$body' -H 'authorization: $auth' -H 'content-type: application/json' $url 2>&1`;

    my ($ok, $fail) = $report =~ /status codes: (\d+) 2xx, \d+ 3xx, \d+ 4xx, (\d+) 5xx/
        or die "h2load: $report";
    my ($streams) = $report =~ /requests: (\d+) total/;

    open my $in, '<', "$root/logs/sink.log" or die "sink.log: $!";
    my $sunk = () = <$in>;
    close $in;

    return { streams => $streams, ok => $ok, failed => $fail, sunk => $sunk };
}

__DATA__

=== TEST 1: the defaults: 100 streams on one connection, 400 batches of 20, every one answered 200 and delivered
--- http2
--- http_config eval: sink_config()
--- config eval: sink_pass_config()
--- no_kochava_defaults: /_kochava/track
--- init
package main;
my $r = h2load_batches();
Test::More::is($r->{streams}, 400, 'TEST 1: h2load sent 400 batches');
Test::More::is($r->{ok}, 400, 'TEST 1: 400 answered 2xx');
Test::More::is($r->{failed}, 0, 'TEST 1: none answered 5xx');
Test::More::is($r->{sunk}, 8000, 'TEST 1: 8,000 messages at the sink');
--- request
GET /metrics
--- error_code: 200
--- metrics
kochava_worker_slots 128
kochava_worker_slots_taken 0
kochava_upstream_in_flight 0
kochava_requests_total{status="200"} 400
kochava_requests_total{status="503"} 0
kochava_upstream_requests_total{destination="kochava",result="ok"} 8000
--- timeout: 60
--- no_error_log
[alert]
[crit]
[emerg]
[error]
worker_connections are not enough



=== TEST 2: the bound lifted ("off"): the same load runs the worker out of connections, batches are answered 503
--- http2
--- http_config eval: sink_config() . "kochava_worker_concurrency off;\n"
--- config eval: sink_pass_config()
--- no_kochava_defaults: /_kochava/track
--- init
package main;
my $r = h2load_batches();
Test::More::is($r->{streams}, 400, 'TEST 2: h2load sent 400 batches');
Test::More::cmp_ok($r->{failed}, '>', 0, "TEST 2: $r->{failed} answered 5xx");
Test::More::cmp_ok($r->{sunk}, '<', 8000, "TEST 2: $r->{sunk} messages at the sink");
--- request
GET /metrics
--- error_code: 200
--- metrics
kochava_worker_slots 0
--- timeout: 60
--- error_log
[alert]
worker_connections are not enough
--- no_error_log
[emerg]
