#!/usr/bin/env perl
# The spool and async delivery with a real master and two workers: files
# closed on size, age, "nginx -s reopen" and exit; .part files of dead
# workers adopted; "nginx -s quit" and "nginx -s reload" with fan-outs in
# flight lose nothing (every accepted message is delivered or spooled).
#
#   prove tests/spool/spool.t          (make test; needs build/ and echo)

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
my $prefix = "$top/build/spool-test";
my $port   = $ENV{KOCHAVA_SPOOL_TEST_PORT} || 18280;
my $spool  = "$prefix/spool";
my $json   = JSON::PP->new->canonical;

sub nginx_cmd   { EdgeTest::nginx_cmd($prefix, @_) }
sub spool_files { EdgeTest::spool_files($spool, @_) }

plan skip_all => "no $module (run make)" unless -f $module;

sub write_conf {
    my (%o) = @_;
    my $upstream = $o{upstream};       # what /_kochava/track proxies to
    my $extra = $o{spool_params} // '';
    open my $fh, '>', "$prefix/nginx.conf" or die $!;
    print $fh <<"EOF";
load_module $echo;
load_module $module;
worker_processes 2;
@{[EdgeTest::worker_user()]}
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path temp;
    proxy_temp_path temp;
    log_format sink escape=json '\$request_body';
    map \$status \$delivered { 200 1; default 0; }
    upstream sink { server 127.0.0.1:@{[$port + 1]}; keepalive 8; }

    server {
        listen 127.0.0.1:$port;
        location /v1/ {
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            kochava_ingest;
            kochava_app_id koexample-app-guid;
            kochava_pass /_kochava/track;
            kochava_delivery async;
            kochava_spool spool $extra;
        }
        location /_kochava/track {
            internal;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 5s;
            proxy_pass $upstream;
        }
    }

    server {
        listen 127.0.0.1:@{[$port + 1]};
        location /ok {
            access_log logs/sink.jsonl sink if=\$delivered;
            echo_read_request_body;
            echo -n '{"success":"1"}';
        }
        location /slow {
            access_log logs/sink.jsonl sink if=\$delivered;
            echo_read_request_body;
            echo_sleep 1;
            echo -n '{"success":"1"}';
        }
        location /flaky {
            # about one in three fails: those are spooled
            if (\$msec ~ "[0-2]\$") {
                return 503;
            }
            access_log logs/sink.jsonl sink if=\$delivered;
            echo_read_request_body;
            echo_sleep 0.05;
            echo -n '{"success":"1"}';
        }
    }
}
EOF
    close $fh;
}

sub track {
    my ($id) = @_;
    return $json->encode({
        type => 'track', userId => 'u', event => 'Spool Test',
        messageId => $id, timestamp => '2024-03-20T19:26:56Z',
        context => { device => {
            id => 'd1', type => 'android', model => 'Pixel 8',
            advertisingId => '38400000-8cf0-11bd-b23e-10b96e40000d',
            adTrackingEnabled => JSON::PP::true },
            os => { name => 'Android', version => '14' } },
    });
}

# sends the tracks over one keepalive connection; returns the statuses
sub send_tracks {
    my ($from, $n) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        or die "connect: $!";
    my @status;
    for my $i ($from .. $from + $n - 1) {
        my $body = track("spool-test-$i");
        print $s "POST /v1/track HTTP/1.1\r\nHost: x\r\n"
                 . "Content-Type: application/json\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n$body";
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $r = sysread($s, $head, 1, length $head) or last;
        }
        my ($st) = $head =~ m{^HTTP/1\.1 (\d+)};
        my ($len) = $head =~ /Content-Length: (\d+)/i;
        my $rest = '';
        sysread($s, $rest, $len - length $rest, length $rest)
            while length $rest < ($len // 0);
        push @status, $st // 0;
    }
    close $s;
    return @status;
}

sub spool_records { scalar(grep { ref } EdgeTest::spool_pending($spool)) }

sub sink_count {
    open my $fh, '<', "$prefix/logs/sink.jsonl" or return 0;
    my $n = 0;
    $n++ while <$fh>;
    return $n;
}

sub stop_wait {
    nginx_cmd('-s', 'quit');
    wait_for(sub { !-f "$prefix/logs/nginx.pid" }, 15);
}

sub fresh {
    remove_tree($prefix);
    make_path("$prefix/logs", "$prefix/temp");
}

# ---------------------------------------------------------------------------

subtest 'upstream down: every accepted message is in the spool' => sub {
    fresh();
    write_conf(upstream => 'http://127.0.0.1:1', spool_params =>
               'file_size=4k interval=3s');

    # a .part of a worker that died before this nginx started
    make_path($spool);
    open my $o, '>', "$spool/kochava-4194303-1-0.jsonl.part" or die $!;
    print $o '{"dest":"kochava","uri":"/x","body":{},"attempts":1,'
             . '"first_failed":1,"last_error":"503"}' . "\n" . '{"dest":"kocha';
    close $o;

    is(nginx_cmd(), 0, 'nginx started');
    ok(wait_for(sub { -f "$spool/kochava-4194303-1-0.jsonl" }, 3),
       'the dead worker\'s .part file was closed by a new worker');

    my @st = send_tracks(1, 100);
    is(scalar(grep { $_ == 200 } @st), 100, '100 tracks answered 200');

    ok(wait_for(sub { spool_records() >= 101 }, 5), 'spooled');
    is(spool_records(), 101, '100 records (+1 whole adopted) in the spool');

    my @closed = grep { !/^kochava-4194303-/ } spool_files(qr/\.jsonl$/);
    cmp_ok(scalar @closed, '>=', 2, 'file_size=4k closed several files: '
           . scalar @closed);

    for my $f (@closed) {
        cmp_ok(-s "$spool/$f", '<=', 4096 + 2048, "$f is about file_size");
    }

    # every line whole, in the spec's format
    my $bad = 0;
    for my $f (spool_files(qr/\.jsonl(\.part)?$/)) {
        next if $f =~ /^kochava-4194303-/;
        open my $fh, '<', "$spool/$f" or die $!;
        while (my $line = <$fh>) {
            # the journal (write-ahead records, done marks) has its own shape
            next if $line =~ /\A\{"(?:id|done)":/;
            my $r = eval { decode_json($line) };
            $bad++ unless $r && $r->{dest} eq 'kochava'
                && $r->{uri} eq '/_kochava/track' && $r->{attempts} == 1
                && $r->{last_error} eq '502 no answer'
                && $r->{body}{kochava_app_id} eq 'koexample-app-guid'
                && $line =~ /\n\z/;
        }
    }
    is($bad, 0, 'every record is a whole line in the spool format');

    ok(wait_for(sub { !spool_files(qr/\.part$/) }, 7),
       'interval=3s closed the last .part files');

    send_tracks(101, 3);
    ok(wait_for(sub { spool_files(qr/\.part$/) }, 3), 'a new .part file');
    nginx_cmd('-s', 'reopen');
    ok(wait_for(sub { !spool_files(qr/\.part$/) }, 3), 'nginx -s reopen closed it');

    send_tracks(104, 2);
    ok(wait_for(sub { spool_files(qr/\.part$/) }, 3), 'another .part file');
    ok(stop_wait(), 'nginx quit');
    is(scalar(spool_files(qr/\.part$/)), 0, 'exit closed it');
    is(spool_records(), 106, 'all 105 records and the adopted one');
    ok(-f "$spool/.kochava-reopen", 'the reopen marker exists');

    my $err = do { local $/; open my $e, '<', "$prefix/logs/error.log"; <$e> };
    unlike($err, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
};

subtest 'nginx -s quit with fan-outs in flight: delivered or spooled' => sub {
    fresh();
    write_conf(upstream => 'http://sink/slow', spool_params => 'interval=1s');
    is(nginx_cmd(), 0, 'nginx started');
    sleep 0.3;

    my @st = send_tracks(1, 40);
    is(scalar(grep { $_ == 200 } @st), 40, '40 tracks answered 200');

    # the upstream sleeps 1 s: the fan-outs are all still in flight
    ok(stop_wait(), 'nginx quit (old workers finished their fan-outs)');

    my ($d, $s) = (sink_count(), spool_records());
    is($d + $s, 40, "delivered $d + spooled $s = 40 accepted");
    is($d, 40, 'the upstream got every one before the workers exited');
};

subtest 'nginx -s reload under load, a flaky upstream: nothing lost' => sub {
    fresh();
    write_conf(upstream => 'http://sink/flaky', spool_params => 'interval=1s');
    is(nginx_cmd(), 0, 'nginx started');
    sleep 0.3;

    my $pid = fork // die;
    if (!$pid) {
        for (1 .. 12) {
            sleep 0.15;
            nginx_cmd('-s', 'reload');
        }
        exit 0;
    }

    my $accepted = 0;
    for my $round (0 .. 19) {
        $accepted += grep { $_ == 200 } send_tracks($round * 20 + 1, 20);
    }
    waitpid $pid, 0;

    is($accepted, 400, '400 tracks answered 200 across the reloads');
    ok(stop_wait(), 'nginx quit');

    my ($d, $s) = (sink_count(), spool_records());
    cmp_ok($s, '>', 0, "some were spooled ($s)");
    is($d + $s, $accepted, "delivered $d + spooled $s = $accepted accepted");

    my $err = do { local $/; open my $e, '<', "$prefix/logs/error.log"; <$e> };
    unlike($err, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
};

nginx_cmd('-s', 'stop') if -f "$prefix/logs/nginx.pid";
done_testing();
