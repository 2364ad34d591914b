#!/usr/bin/env perl
# Issue 4's "done when", end to end: with Kochava down, N messages accepted
# in async mode are all on disk; once Kochava is back, "kochava-replay
# --once" delivers exactly those N (none twice, none lost), and the metrics
# account for every one of them.
#
#   prove tests/e2e/outage.t           (make test; needs build/)

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use JSON::PP;
use Test::More;

use lib dirname(__FILE__) . '/../lib';
use EdgeTest qw(wait_for);
use Time::HiRes qw(sleep time);

my $top    = abs_path(dirname(__FILE__) . '/../..');
my $nginx  = $ENV{NGINX} || '/usr/sbin/nginx';
my $echo   = $ENV{ECHO_MODULE} || '/usr/lib/nginx/modules/ngx_http_echo_module.so';
my $module = "$top/build/ngx_http_kochava_module.so";
my $replay = "$top/build/kochava-replay";
my $prefix = "$top/build/e2e-outage";
my $port   = $ENV{KOCHAVA_E2E_PORT} || 18380;
my $spool  = "$prefix/spool";
my $N      = 200;
my $json   = JSON::PP->new->canonical;

sub nginx_cmd   { EdgeTest::nginx_cmd($prefix, @_) }
sub spool_files { EdgeTest::spool_files($spool, @_) }

plan skip_all => "no $module or $replay (run make)"
    unless -f $module && -x $replay;

sub http {
    my ($method, $path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        or die "connect: $!";
    $body //= '';
    print $s "$method $path HTTP/1.0\r\nHost: x\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    my $resp = <$s> // '';
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($content) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0, $content // '');
}

sub track {
    my ($seq) = @_;
    return {
        type => 'track', userId => 'u', event => 'Outage Test',
        messageId => "outage-$seq", timestamp => '2024-03-20T19:26:56Z',
        properties => { seq => $seq },
        context => { device => {
            id => "d$seq", type => 'android', model => 'Pixel 8',
            advertisingId => '38400000-8cf0-11bd-b23e-10b96e40000d',
            adTrackingEnabled => JSON::PP::true },
            os => { name => 'Android', version => '14' } },
    };
}

sub spool_records { scalar(EdgeTest::spool_pending($spool)) }

sub metric {
    my ($text, $series) = @_;
    return $text =~ /^\Q$series\E (\S+)$/m ? $1 + 0 : undef;
}

remove_tree($prefix);
make_path("$prefix/logs", "$prefix/temp");

open my $fh, '>', "$prefix/nginx.conf" or die $!;
print $fh <<"EOF";
load_module $echo;
load_module $module;
worker_processes 2;
@{[EdgeTest::worker_user()]}
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path temp;
    proxy_temp_path temp;
    log_format sink escape=json '\$request_body';

    server {
        listen 127.0.0.1:$port;
        location /v1/ {
            kochava_ingest;
            kochava_app_id koexample-app-guid;
            kochava_pass /_kochava/track;
            kochava_delivery async;
            kochava_spool spool interval=1s;
        }
        # Kochava is down
        location /_kochava/track {
            internal;
            proxy_pass http://127.0.0.1:1/track/json;
        }
        location = /metrics {
            kochava_status;
        }
    }

    # Kochava once it is back, for the replay
    server {
        listen 127.0.0.1:@{[$port + 1]};
        location = /track/json {
            access_log logs/kochava.jsonl sink;
            echo_read_request_body;
            echo -n '{"success":"1"}';
        }
    }
}
EOF
close $fh;

is(nginx_cmd(), 0, 'nginx started');
sleep 0.3;

my $accepted = 0;
for my $b (0 .. $N / 20 - 1) {
    my $batch = $json->encode({ batch => [ map { track($b * 20 + $_) } 1 .. 20 ] });
    my ($st, $body) = http('POST', '/v1/batch', $batch);
    $accepted += 20 if $st == 200 && $body eq '{"success":true}';
}
is($accepted, $N, "$N messages accepted in async mode, Kochava down");

ok(wait_for(sub { !spool_files(qr/\.part$/) && spool_records() >= $N }, 5),
   'the spool files were closed');
is(spool_records(), $N, "all $N are on disk");

my (undef, $m) = http('GET', '/metrics');
is(metric($m, 'kochava_messages_received_total{type="track"}'), $N,
   "metrics: $N tracks received");
is(metric($m, 'kochava_messages_accepted_total'), $N,
   "metrics: $N accepted");
my $failed = (metric($m, 'kochava_upstream_requests_total{destination="kochava",result="retryable"}') // 0)
           + (metric($m, 'kochava_upstream_requests_total{destination="kochava",result="timeout"}') // 0);
is($failed, $N, "metrics: $N outbound requests failed retryably");
is(metric($m, 'kochava_upstream_requests_total{destination="kochava",result="ok"}') // 0, 0,
   'metrics: none delivered');
is(metric($m, 'kochava_spool_records_total'), $N, "metrics: $N spool records");
is(metric($m, 'kochava_spool_dropped_total') // 0, 0, 'metrics: none dropped');
cmp_ok(metric($m, "kochava_spool_bytes{spool=\"$spool\"}") // 0, '>', 0,
       'metrics: spool bytes');

# Kochava is back: the replay sends what is on disk, run as the spool's
# owner (nginx's workers' user: "nobody" when the test runs as root), as
# it refuses to run as anyone else
my ($uid, $gid) = (stat $spool)[4, 5];
my $as = $uid == $> ? '' : "setpriv --reuid=$uid --regid=$gid --clear-groups ";
my $out = `$as$replay --spool $spool --kochava-url http://127.0.0.1:@{[$port + 1]}/track/json --once 2>&1`;
is($? >> 8, 0, 'kochava-replay --once exited 0') or diag($out);

my %seen;
my $delivered = 0;
if (open my $k, '<', "$prefix/logs/kochava.jsonl") {
    while (my $line = <$k>) {
        chomp $line;
        # the access log wrote the body as an escaped JSON string
        my $text = eval { JSON::PP->new->decode(qq{["$line"]})->[0] };
        my $body = eval { decode_json($text) } or next;
        $delivered++;
        $seen{ $body->{data}{event_data}{seq} // 'none' }++;
    }
}
is($delivered, $N, "Kochava got $N requests");
is(scalar(grep { $seen{$_} == 1 } 1 .. $N), $N, 'each message exactly once');
is(scalar(spool_files(qr/\.jsonl$/)), 0, 'the spool is empty');
ok(!-e "$spool/dead-letter.jsonl", 'nothing went to the dead letter file');

nginx_cmd('-s', 'quit');
wait_for(sub { !-f "$prefix/logs/nginx.pid" }, 10);

my $err = do { local $/; open my $e, '<', "$prefix/logs/error.log"; <$e> };
unlike($err, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');

done_testing();
