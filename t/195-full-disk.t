# A full disk under the edge: the spool and client_body_temp_path on a
# 1 MB tmpfs that is full (mounted by this file: root only, skipped
# otherwise).  A body nginx would buffer to a temporary file gets the
# module's 503 + Retry-After (the SDK keeps the batch and retries), not
# nginx's HTML 500, over HTTP/1.1 and HTTP/2; the spool's write() errors
# are logged at most once a second with their count, every one counted.

use lib '.';
use t::TestKochava;
use t::Messages;
use t::Metrics;
use t::LogLimit;

our $Disk;

BEGIN {
    if ($> != 0) {
        Test::More::plan(skip_all => 'needs root: it mounts a 1 MB tmpfs '
                                     . '(the full disk)');
    }
    $Disk = "/tmp/kochava-t195-$$";
    mkdir $Disk or die "mkdir $Disk: $!";
    if (system("mount -t tmpfs -o size=1m kochava-t195 $Disk") != 0) {
        rmdir $Disk;
        Test::More::plan(skip_all => "mount -t tmpfs failed (a container "
                                     . "without CAP_SYS_ADMIN?)");
    }
    $ENV{TEST_NGINX_FULL_DISK} = $Disk;
}

END {
    if (defined $Disk && -d $Disk) {
        # lazily: the runner stops its nginx after this
        system("umount -l $Disk") == 0 and rmdir $Disk;
    }
}

# before nginx starts: an empty disk, where nginx makes its directories
add_block_preprocessor(sub {
    system("rm -rf $Disk/*") == 0 or die "cannot empty $Disk";
});

# after it started: the disk filled to its last byte
sub fill_disk () {
    open my $out, '>', "$Disk/fill" or die "$Disk/fill: $!";
    my $block = "\0" x 65536;
    1 while syswrite $out, $block;
    close $out;
    die "$Disk is not full" unless (stat "$Disk/fill")[7] >= 900_000;
}

repeat_each(1);
check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: HTTP/1.1: a body past client_body_buffer_size on a full disk gets 503 + Retry-After as JSON
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('client_body_buffer_size 1k;
               client_body_temp_path $TEST_NGINX_FULL_DISK/body;
               kochava_spool $TEST_NGINX_FULL_DISK/spool;') . q{
    location = /metrics { kochava_status; }
}
--- init
main::fill_disk();
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n"
    . json({batch => [map { android_track("Full Disk $_") } 1 .. 20]}),
 "GET /metrics"]
--- error_code eval: [503, 200]
--- response_headers_like eval
["Content-Type: application/json\nRetry-After: 10", "Content-Type: text/plain.*"]
--- response_body_like eval
[qr/\A\{"success":false,"message":"Request body could not be buffered"\}\z/, qr/kochava_requests_total/]
--- kochava: []
--- metrics
kochava_requests_total{status="503"} 1
kochava_requests_total{status="500"} 0
--- error_log eval
[qr/\[crit\] .*pwritev?\(\) ".*body\/\d+" failed \(28: No space left on device\)/,
 qr/\[error\] .*kochava: the request body could not be buffered \(is client_body_temp_path full\?\), answered 503/]
--- no_error_log
[alert]
[emerg]



=== TEST 2: HTTP/2: the same batch on a full disk gets 503 + Retry-After as JSON
--- http2
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('client_body_buffer_size 1k;
               client_body_temp_path $TEST_NGINX_FULL_DISK/body;
               kochava_spool $TEST_NGINX_FULL_DISK/spool;')
--- init
main::fill_disk();
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n"
    . json({batch => [map { android_track("Full Disk H2 $_") } 1 .. 20]})
--- error_code: 503
--- response_headers
Content-Type: application/json
Retry-After: 10
--- response_body: {"success":false,"message":"Request body could not be buffered"}
--- kochava: []
--- error_log eval
qr/\[crit\] .*pwrite\(\) ".*body\/\d+" failed \(28: No space left on device\)/
--- no_error_log
[alert]
[emerg]



=== TEST 3: HTTP/1.1, a body that comes in pieces: 503, the rest of it read and dropped
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('client_body_buffer_size 1k;
               client_body_temp_path $TEST_NGINX_FULL_DISK/body;
               kochava_spool $TEST_NGINX_FULL_DISK/spool;')
--- init
main::fill_disk();
--- raw_request eval
my $body = json({batch => [map { android_track("Pieces $_") } 1 .. 40]});
my $head = "POST /v1/batch HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: " . basic_auth(KEY) . "\r\n"
    . "Content-Type: application/json\r\n"
    . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n";
[$head, map { substr($body, $_ * 2000, 2000) } 0 .. int(length($body) / 2000)]
--- raw_request_middle_delay: 0.02
--- error_code: 503
--- response_body: {"success":false,"message":"Request body could not be buffered"}
--- kochava: []
--- no_error_log
[alert]
[emerg]



=== TEST 4: HTTP/1.1, two batches pipelined on one connection: both answered 503, the connection kept
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('client_body_buffer_size 1k;
               client_body_temp_path $TEST_NGINX_FULL_DISK/body;
               kochava_spool $TEST_NGINX_FULL_DISK/spool;')
--- init
main::fill_disk();
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- pipelined_requests eval
my $batch = json({batch => [map { android_track("Pipelined $_") } 1 .. 40]});
["POST /v1/batch\n" . $batch, "POST /v1/batch\n" . $batch]
--- error_code eval: [503, 503]
--- response_body eval
[('{"success":false,"message":"Request body could not be buffered"}') x 2]
--- kochava: []
--- no_error_log
[alert]
[emerg]



=== TEST 5: async, a failing upstream, a full disk: 100 write() failures, a few lines, every one counted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_kochava/track
--- config eval
ingest_config('kochava_delivery async;
               kochava_spool $TEST_NGINX_FULL_DISK/spool interval=1s;') . q{
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location = /flush { echo_sleep 2.5; echo ok; }
    location = /metrics { kochava_status; }
}
--- init
main::fill_disk();
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/batch\n"
    . json({batch => [map { android_track("No Space $_") } 1 .. 100]}),
 "GET /flush", "GET /metrics"]
--- error_code eval: [200, 200, 200]
--- metrics
kochava_spool_dropped_total 100
kochava_spool_records_total 0
kochava_unjournaled_total 100
--- log_limited eval
[[qr/write\(\).*failed.*a (kochava )?request was dropped/, 100, 3],
 [qr/write\(\).*failed.*requests accepted without their journal/, 1, 1]]
--- error_log eval
qr/\[error\] .*kochava: write\(\) to spool ".*" failed, a kochava request was dropped \(28: No space left on device\)/
--- no_error_log
[alert]
[emerg]
