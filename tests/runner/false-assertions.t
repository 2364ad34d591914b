#!/usr/bin/env perl
# Every assertion section the t/ suites use must be able to fail.
#
# It writes a suite of blocks, each with one false assertion (and blocks
# with a misspelt section, and with two sections of which the runner reads
# only the first), runs it with prove under the same Test::Nginx as t/, and
# checks that each block produced a failure.  A section used in t/*.t that
# is neither an assertion checked here nor a known set-up section fails this
# test too, so a new section cannot slip in unchecked.

use strict;
use warnings;

use Cwd ();
use File::Temp ();
use Test::More;

my $top = Cwd::abs_path((__FILE__ =~ s{[^/]+\z}{}r) . "../..");

my $port = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 11;

# set-up sections: they assert nothing themselves
my %SETUP = map { $_ => 1 } qw(config http_config main_config request
    more_headers raw_request pipelined_requests timeout log_level wait
    user_files no_kochava_defaults grep_error_log http2 init
    raw_request_middle_delay skip_eval worker_user);

# section => a block whose only false claim is that section
my %FALSE = (
    error_code => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- error_code: 404
EOF
    response_body => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: not ok
EOF
    response_body_like => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body_like: ^nope
EOF
    response_body_unlike => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body_unlike: ok
EOF
    response_headers => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_headers
X-Never: sent
EOF
    response_headers_like => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_headers_like
Content-Type: image/.*
EOF
    error_log => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- error_log
a line nobody logs
EOF
    no_error_log => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- no_error_log
[notice]
EOF
    grep_error_log_out => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- grep_error_log: start worker process
--- grep_error_log_out
a line nobody logs
EOF
    must_die => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- must_die
EOF
    kochava => <<'EOF',
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval: "POST /v1/track\n" . json(android_track('One'))
--- kochava eval: json([kochava_event('Another')])
EOF
    kochava_identity => <<'EOF',
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval: "POST /v1/track\n" . json(android_track('One'))
--- kochava_identity eval: json([{kochava_app_id => GUID}])
EOF
    braze => <<'EOF',
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval: "POST /v1/track\n" . json(android_track('One'))
--- braze eval: json([{attributes => []}])
EOF
    spool => <<'EOF',
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_delivery async; kochava_spool spool;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval: "POST /v1/track\n" . json(android_track('One'))
--- spool eval: json([{dest => 'kochava', body => kochava_event('One')}])
EOF
    upstream_requests_like => <<'EOF',
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval: "POST /v1/track\n" . json(android_track('One'))
--- upstream_requests_like: "method":"PUT"
EOF
    metrics => <<'EOF',
--- config
    location = /metrics { kochava_status; }
--- request
GET /metrics
--- metrics
kochava_messages_accepted_total 42
EOF
    log_limited => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- log_limited eval: [qr/a line nobody logs/, 1, 1]
EOF
);

# the runner's own gaps, which t::TestKochava turns into failures
my %STRICT = (
    'unknown section' => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- respone_body
not ok
EOF
    'response_body and response_body_like' => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: ok
--- response_body_like: ^nope
EOF
    'response_headers and response_headers_like' => <<'EOF',
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_headers
Content-Type: text/plain
--- response_headers_like
Content-Type: image/.*
EOF
);

# every section of t/*.t is a set-up section or has a false block here
my %used;
for my $file (glob "$top/t/*.t") {
    open my $in, '<', $file or die "$file: $!";
    while (<$in>) {
        $used{$1}{$file =~ s{.*/}{}r} = 1 if /^--- (\w+)/;
    }
}
for my $sec (sort keys %used) {
    ok($SETUP{$sec} || $FALSE{$sec},
       "--- $sec (in " . join(', ', sort keys %{$used{$sec}})
       . ") is a set-up section or has a false-assertion block here");
}

SKIP: {
    skip "no build/ngx_http_kochava_module.so (run make)", 1
        unless -f "$top/build/ngx_http_kochava_module.so";

    my $dir = File::Temp::tempdir('kochava-false-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    mkdir "$dir/t" or die $!;

    my @names;
    my $suite = <<"EOF";
use lib '$top';
use t::TestKochava;
use t::Messages;
use t::Metrics;
use t::LogLimit;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__
EOF
    my $n = 0;
    for my $what ((map { ["--- $_", $FALSE{$_}] } sort keys %FALSE),
                  (map { [$_, $STRICT{$_}] } sort keys %STRICT)) {
        my $name = "FALSE " . ++$n . ": $what->[0]";
        push @names, $name;
        $suite .= "\n=== $name\n$what->[1]\n";
    }
    open my $out, '>', "$dir/t/false.t" or die $!;
    print $out $suite;
    close $out;

    local $ENV{TEST_NGINX_SERVER_PORT} = $port;
    my $tap = `cd '$dir' && prove -v t/false.t 2>&1`;

    for my $i (0 .. $#names) {
        my $name = $names[$i];
        my $failed = $tap =~ /^not ok \d+ - [^\n]*\Q$name\E[: ]/m;
        ok($failed, "a block whose only claim is false fails: $name");
    }
    unlike($tap, qr/^Bailout|^Bail out/m, "the false suite ran to its end")
        or diag($tap);
}

done_testing();
