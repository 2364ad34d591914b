package t::TestKochava;

# The test wrapper of ngx_kochava_module's nginx-level suites:
#
#     use lib '.';
#     use t::TestKochava;
#
# It runs under the real Test::Nginx::Socket (openresty/test-nginx; the
# Makefile finds it) and makes it stricter.  It adds to every block:
#
# - a recording mock upstream of stock nginx (proxy_pass to a return, see
#   mock_locations) in the same server:
#   /_mock/kochava, /_mock/identity (200 {"success":"1"}), /_mock/braze
#   (200 {"message":"success"}), and for fault tests /_mock/fail/503,
#   /_mock/fail/500, /_mock/fail/429, /_mock/fail/400, /_mock/kochava_no
#   (200 {"success":"0"}), /_mock/notjson (200 <html>), /_mock/slow (2 s,
#   then 200), /_mock/kochava/slow (0.3 s, then Kochava's 200; counted as
#   /_mock/kochava by "--- kochava").  Each request they get is one JSON line (uri, args, method,
#   content_type, content_length, authorization, content_encoding, body) in
#   logs/mock-<pid>-<n>.jsonl, one file per block;
# - unless the block says "--- no_kochava_defaults", the module's usual pass
#   locations: /_kochava/track -> /_mock/kochava, /_kochava/identity ->
#   /_mock/identity, /_braze/track -> /_mock/braze;
#   "--- no_kochava_defaults: /_kochava/track" leaves out only those named
#   (the block has its own), as nginx -t refuses a pass URI that leads to
#   no location of its own;
# - "--- no_error_log" of [alert], [crit] and [emerg] when the block has
#   none (the runner itself only warns about them);
# - a failure for a section no runner knows (a misspelt "--- respone_body"
#   would otherwise be ignored) and for a pair of sections of which the
#   runner checks only the first ("response_body" with "response_body_like",
#   "response_headers" with "response_headers_like", ...);
# - a plan (done_testing) when the test file declared none.
#
# and these sections, checked after the block's last request (of each
# repetition):
#
# --- kochava / kochava_identity / braze
#     a JSON array of the bodies the mock must have received for that
#     destination: compared as parsed JSON (key order free) and as a
#     multiset (order free); {"$near_now": D} is now + D seconds within 5 s
#     (epoch seconds, or an ISO-8601 UTC string such as Braze's "time");
#     [] means nothing at all was sent there.
# --- spool
#     a JSON array of the records the block's requests must have added to
#     the spool in <servroot>/spool ("kochava_spool spool;"), compared as
#     the bodies are ({"$near_now": 0} for first_failed)
# --- upstream_requests_like
#     a regex (or, with eval, a qr// or an array of them) that EVERY request
#     the mock recorded in the block must match, e.g. "authorization":""
#
# and a helper for requests that must overlap the block's own: in an
# "--- init" section (run once nginx is up, before the block's requests),
# t::TestKochava::background_post($path, $header_lines, $body) sends one
# POST from a child process and returns at once; the block's requests go
# on meanwhile (its answer is not checked: count it with --- metrics).
#
# "--- x eval" sections are evaluated in package main here (Test::Base
# evaluates them in Test::Base::Filter), so helpers a test file imports
# (t::Messages) can be called from them.

BEGIN {
    # where the modules are when the Makefile does not say: before
    # Test::Nginx::Socket is loaded, as the real one reads this at load time
    if (!$ENV{TEST_NGINX_LOAD_MODULES}) {
        require Cwd;
        my $echo = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
        $ENV{TEST_NGINX_LOAD_MODULES} = (-f $echo ? "$echo " : '')
            . Cwd::cwd() . '/build/ngx_http_kochava_module.so';
    }
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
}

use Test::Nginx::Socket -Base;

# a batch fans out to 32 subrequests, each holding a connection to the mock
# and the mock one to its reply: the runner's default of 64 is too few
worker_connections(1024);

# which runner this is, in every suite's output
Test::More::diag("Test::Nginx::Socket $Test::Nginx::Socket::VERSION from "
                 . $INC{'Test/Nginx/Socket.pm'});

use B ();
use File::Path ();
use JSON::PP ();
use Time::HiRes ();

our $MockWait = 1;       # seconds to wait for expected upstream requests

my %DEST_URI = (
    kochava          => qr{^/_mock/kochava(?:/slow)?\z},
    kochava_identity => qr{^/_mock/identity\z},
    braze            => qr{^/_mock/braze\z},
);

# --------------------------------------------------------------------------
# "eval" sections run in package main

{
    require Test::Base::Filter;      # loaded lazily otherwise, over ours
    no warnings 'redefine';
    *Test::Base::Filter::eval = sub {
        my ($filter, $code) = @_;
        my $name = $filter->current_block ? $filter->current_block->name : '?';
        my @ret = CORE::eval("package main;\n#line 1 \"eval section\"\n$code");
        die "$name: eval section failed: $@" if $@;
        return @ret;
    };
}

# --------------------------------------------------------------------------
# the mock upstream and the default pass locations

my $MockSeq = 0;

# a port that accepts connections (the kernel's backlog) and never answers:
# the slow mocks wait on it for their delay, with stock nginx only
my $Blackhole;

sub blackhole_port () {
    if (!$Blackhole) {
        require IO::Socket::INET;
        $Blackhole = IO::Socket::INET->new(Listen => 1024,
                                           LocalAddr => '127.0.0.1',
                                           LocalPort => 0, ReuseAddr => 1)
            or die "t::TestKochava: cannot listen for the slow mock: $!";
    }
    return $Blackhole->sockport;
}

# The mock upstream needs stock nginx only (no echo module), so it runs on
# any nginx the module is built for: /_mock/<name> reads the body by
# proxying to /_mock_reply/<name> (a "return" of the canned answer) and
# logs it; a slow one proxies to the blackhole with its delay as the read
# time-out (logged at crit only: it is no error of the block's) and answers
# from an error_page.
sub mock_locations ($$) {
    my ($log, $port) = @_;

    my %mocks = (
        'kochava'    => [200, '{"success":"1"}'],
        'identity'   => [200, '{"success":"1"}'],
        'braze'      => [200, '{"message":"success"}'],
        'fail/503'   => [503, '{"error":"unavailable"}'],
        'fail/500'   => [500, '{"error":"internal"}'],
        'fail/429'   => [429, '{"error":"rate limited"}'],
        'fail/400'   => [400, '{"error":"bad request"}'],
        'kochava_no' => [200, '{"success":"0"}'],
        'notjson'    => [200, '<html>'],
        'slow'       => [200, '{"success":"1"}', '2s'],
        'kochava/slow' => [200, '{"success":"1"}', '300ms'],
    );

    my $common = <<"EOF";
            access_log $log kochava_mock;
            client_body_buffer_size 1m;
            client_body_in_single_buffer on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
EOF
    my $out = "\n    # t::TestKochava mock upstream\n";
    for my $name (sort keys %mocks) {
        my ($status, $body, $delay) = @{$mocks{$name}};
        my $reply = "default_type application/json;\n"
                    . "            return $status '$body';";
        (my $id = $name) =~ s{/}{_}g;

        $out .= "    location = /_mock/$name {\n$common";
        if ($delay) {
            my $hole = blackhole_port();
            $out .= <<"EOF";
            proxy_read_timeout $delay;
            proxy_pass http://127.0.0.1:$hole;
            error_log logs/error.log crit;
            error_page 504 = \@mock_reply_$id;
        }
    location \@mock_reply_$id {
            access_log $log kochava_mock;
            $reply
        }
EOF
        } else {
            $out .= <<"EOF";
            proxy_pass http://127.0.0.1:$port/_mock_reply/$name;
        }
    location = /_mock_reply/$name {
            $reply
        }
EOF
        }
    }
    return $out;
}

sub default_pass_locations ($@) {
    my ($port, @own) = @_;
    my %pass = (
        '/_kochava/track'    => '/_mock/kochava',
        '/_kochava/identity' => '/_mock/identity',
        '/_braze/track'      => '/_mock/braze',
    );
    for my $uri (@own) {
        die "t::TestKochava: no default pass location $uri\n"
            unless delete $pass{$uri};
    }
    my $out = "\n    # t::TestKochava default pass locations\n";
    for my $loc (sort keys %pass) {
        $out .= <<"EOF";
    location $loc {
        internal;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://127.0.0.1:$port$pass{$loc};
    }
EOF
    }
    return $out;
}

# --------------------------------------------------------------------------
# strict sections

# the sections the runner reads: every "$block->name" its source calls, so
# a newer Test::Nginx brings its new sections along
my %KnownSection = map { $_ => 1 } qw(ONLY SKIP LAST name);

for my $mod ('Test/Nginx/Socket.pm', 'Test/Nginx/Util.pm') {
    open my $in, '<', $INC{$mod} or die "cannot read $INC{$mod}: $!";
    local $/;
    my $src = <$in>;
    $KnownSection{$1} = 1 while $src =~ /\$block->(\w+)/g;
}

# sections of this wrapper and of t::Metrics
sub add_known_sections (@) {
    $KnownSection{$_} = 1 for @_;
}

add_known_sections(qw(kochava kochava_identity braze spool
                      upstream_requests_like no_kochava_defaults));

# the runner checks the first of each group a block has and ignores the
# others without a word
my @ExclusiveSections = (
    [qw(response_body response_body_eval response_body_like
        response_body_unlike)],
    [qw(response_headers response_headers_like)],
);

sub check_sections ($) {
    my ($block) = @_;
    my $name = $block->name;
    my %has = map { $_ => 1 } @{$block->{_section_order}[0] || []};

    for my $sec (sort keys %has) {
        next if $KnownSection{$sec};
        Test::More::fail("$name - unknown section --- $sec");
    }
    for my $group (@ExclusiveSections) {
        my @present = grep { $has{$_} } @$group;
        next if @present < 2;
        Test::More::fail("$name - --- @present: the runner checks only"
                         . " --- $present[0]; split the block");
    }
}

# --------------------------------------------------------------------------
# per block

add_block_preprocessor(sub {
    my ($block) = @_;

    check_sections($block);

    # Test::Nginx writes "http2 on;" from nginx 1.19.9 on (OpenResty's
    # nginx); nginx itself has that directive from 1.25.1 and wants
    # "listen ... http2" before: show the runner an older version for an
    # HTTP/2 block on such an nginx, and the true one for every other block
    our $TrueNginxVersion //= $Test::Nginx::Util::NginxVersion;
    $Test::Nginx::Util::NginxVersion = $TrueNginxVersion;
    if (defined $block->http2 && defined $TrueNginxVersion
        && $TrueNginxVersion < 1.025001)
    {
        $Test::Nginx::Util::NginxVersion = 1.019008;
    }

    # a block that uses the echo module itself runs where it is loaded
    # (Debian's nginx); on an nginx built from source it is skipped
    if ($ENV{TEST_NGINX_LOAD_MODULES} !~ /ngx_http_echo_module/
        && ($block->config // '') =~ /(?:^|[{;])\s*echo(?:_\w+)?\s/m)
    {
        $block->set_value(skip_eval => "1: 1");
    }

    my $log = "logs/mock-$$-" . ++$MockSeq . ".jsonl";
    $block->set_value(kochava_mock_log => $log);

    my $format = q{
    log_format kochava_mock escape=json '{"uri":"$uri","args":"$args",'
        '"method":"$request_method","content_type":"$content_type",'
        '"content_length":"$content_length",'
        '"authorization":"$http_authorization",'
        '"content_encoding":"$http_content_encoding",'
        '"body":"$request_body"}';
};
    # the mock in the block's own server; over HTTP/2 (a listener that may
    # speak nothing else) in a server of its own on the next port, where
    # the default pass locations send
    my $port = '$TEST_NGINX_SERVER_PORT';
    if (defined $block->http2) {
        $port = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 1;
        $format .= "    server {\n        listen 127.0.0.1:$port;\n"
                   . mock_locations($log, $port) . "    }\n";
    }
    $block->set_value(http_config => ($block->http_config // '') . $format);

    my $config = ($block->config // '') . mock_locations($log, $port);
    my $own = $block->no_kochava_defaults;
    if (!defined $own) {
        $config .= default_pass_locations($port);
    } elsif ($own =~ /\S/) {
        $config .= default_pass_locations($port, split ' ', $own);
    }
    $block->set_value(config => $config);

    if (!defined $block->no_error_log) {
        $block->set_value(no_error_log => "[alert]\n[crit]\n[emerg]\n");
    }

    # the spool of "kochava_spool spool;" lives in the server root, which
    # the runner removes (rmdir) before it starts nginx for this block
    File::Path::remove_tree(server_root() . "/spool");
});

# a plan when the test file gave none
my $planned;
add_cleanup_handler(sub {
    return if $planned++;
    my $tb = Test::More->builder;
    $tb->done_testing unless $tb->has_plan;
});

# --------------------------------------------------------------------------
# JSON comparison

my $JSON = JSON::PP->new->canonical->allow_nonref;

sub is_number ($) {
    my ($v) = @_;
    return 0 if !defined $v || ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK) ? 1 : 0;
}

sub is_bool ($) {
    return ref $_[0] && JSON::PP::is_bool($_[0]);
}

# "2024-03-20T19:26:56Z" or with ".123Z": epoch seconds, or undef
sub iso8601_epoch ($) {
    my ($s) = @_;

    return undef unless defined $s && !ref $s
        && $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z\z/;

    require Time::Local;
    return Time::Local::timegm($6, $5, $4, $3, $2 - 1, $1);
}

# does $got equal $want (parsed JSON)?  {"$near_now": D} in $want matches a
# number, or an ISO-8601 UTC time, within 5 s of now + D; {"$any": 1}
# matches any value
sub json_match ($$);
sub json_match ($$) {
    my ($want, $got) = @_;

    if (ref $want eq 'HASH') {
        return 1 if keys %$want == 1 && exists $want->{'$any'};
        if (keys %$want == 1 && exists $want->{'$near_now'}) {
            my $t = is_number($got) ? $got : iso8601_epoch($got);
            return 0 unless defined $t;
            return abs($t - (time() + $want->{'$near_now'})) <= 5;
        }
        return 0 unless ref $got eq 'HASH' && keys %$got == keys %$want;
        for my $k (keys %$want) {
            return 0 unless exists $got->{$k}
                            && json_match($want->{$k}, $got->{$k});
        }
        return 1;
    }
    if (ref $want eq 'ARRAY') {
        return 0 unless ref $got eq 'ARRAY' && @$got == @$want;
        for my $i (0 .. $#$want) {
            return 0 unless json_match($want->[$i], $got->[$i]);
        }
        return 1;
    }
    if (is_bool($want)) {
        return is_bool($got) && !!$got == !!$want;
    }
    return !defined $got if !defined $want;
    return 0 if !defined $got || ref $got || is_bool($got);
    if (is_number($want)) {
        return is_number($got) && $got == $want;
    }
    return !is_number($got) && $got eq $want;
}

# the largest matching of @$want to @$got (each used once); returns the
# indexes of the unmatched on both sides
sub multiset_diff ($$) {
    my ($want, $got) = @_;
    my @ok = map { my $w = $_; [map { json_match($w, $_) } @$got] } @$want;
    my %owner;          # got index -> want index

    my $try;
    $try = sub {
        my ($w, $seen) = @_;
        for my $g (0 .. $#$got) {
            next unless $ok[$w][$g] && !$seen->{$g}++;
            if (!defined $owner{$g} || $try->($owner{$g}, $seen)) {
                $owner{$g} = $w;
                return 1;
            }
        }
        return 0;
    };
    $try->($_, {}) for 0 .. $#$want;
    undef $try;

    my %matched = map { $_ => 1 } values %owner;
    return ([grep { !$matched{$_} } 0 .. $#$want],
            [grep { !defined $owner{$_} } 0 .. $#$got]);
}

sub decode_json_text ($) {
    my ($text) = @_;
    my $json = JSON::PP->new->allow_nonref;
    my $v = eval { $json->utf8(!utf8::is_utf8($text))->decode($text) };
    return ($v, $@ ? $@ : undef);
}

# --------------------------------------------------------------------------
# reading the mock's log

my %LogPos;     # mock log -> bytes already checked (by an earlier repetition)

# the complete lines written since the last check, parsed
sub read_mock_log ($) {
    my ($path) = @_;
    my $pos = $LogPos{$path} // 0;
    open my $in, '<', $path or return ([], 0);
    binmode $in;
    seek $in, $pos, 0;
    local $/;
    my $data = <$in> // '';
    $data =~ s/[^\n]*\z//;              # a line still being written
    my @recs;
    for my $line (split /\n/, $data) {
        my $rec = eval { JSON::PP->new->utf8->decode($line) }
                  // eval { JSON::PP->new->latin1->decode($line) }
                  // {uri => '', unparsable => $line};
        $rec->{raw} = $line;
        push @recs, $rec;
    }
    return (\@recs, length $data);
}

# the spool records ("--- spool") not seen by an earlier check
my %SpoolPos;

# a write-ahead record ({"id":N,...}) or a done mark ({"done":[...]})
sub journal_line ($) { $_[0] =~ /\A\{"(?:id|done)":/ }

sub read_spool () {
    my $dir = server_root() . "/spool";
    my @recs;
    opendir my $dh, $dir or return [];
    for my $f (sort grep { /\.jsonl(\.part)?\z/ } readdir $dh) {
        my $path = "$dir/$f";
        (my $key = $path) =~ s/\.part\z//;
        open my $in, '<', $path or next;
        binmode $in;
        seek $in, $SpoolPos{$key} // 0, 0;
        local $/;
        my $data = <$in> // '';
        $data =~ s/[^\n]*\z//;
        $SpoolPos{$key} = ($SpoolPos{$key} // 0) + length $data;
        for my $line (split /\n/, $data) {
            # the journal of async requests is not what --- spool checks
            next if journal_line($line);
            push @recs, eval { JSON::PP->new->utf8->decode($line) }
                        // "(not JSON) $line";
        }
    }
    return \@recs;
}

# complete lines in the spool beyond what was checked, without reading them
sub spool_lines () {
    my $dir = server_root() . "/spool";
    my $n = 0;
    opendir my $dh, $dir or return 0;
    for my $f (grep { /\.jsonl(\.part)?\z/ } readdir $dh) {
        (my $key = "$dir/$f") =~ s/\.part\z//;
        open my $in, '<', "$dir/$f" or next;
        seek $in, $SpoolPos{$key} // 0, 0;
        local $/;
        my $data = <$in> // '';
        $n += grep { !journal_line($_) } $data =~ /([^\n]*)\n/g;
    }
    return $n;
}

# --------------------------------------------------------------------------
# a request of the block's running beside its own (see the header)

my @Background;

sub background_post ($$$) {
    my ($path, $headers, $body) = @_;

    require IO::Socket::INET;
    require POSIX;

    my $port = Test::Nginx::Util::server_port_for_client();

    # returns once the request is sent: nginx may still be starting
    # (under valgrind), so the child connects until it is up
    pipe(my $ready, my $tell) or die "t::TestKochava: pipe: $!";

    my $pid = fork();
    die "t::TestKochava: fork: $!" unless defined $pid;

    if ($pid == 0) {
        close $ready;
        my $s;
        for (1 .. 300) {
            $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                       PeerPort => $port, Timeout => 10)
                and last;
            select(undef, undef, undef, 0.05);
        }
        if ($s) {
            $headers .= "\r\n" if length $headers && $headers !~ /\n\z/;
            $headers =~ s/(?<!\r)\n/\r\n/g;
            print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
                     . "Connection: close\r\nContent-Type: application/json\r\n"
                     . $headers . "Content-Length: " . length($body)
                     . "\r\n\r\n" . $body;
        }
        syswrite $tell, "sent\n";
        close $tell;
        if ($s) {
            local $/;
            my $answer = <$s>;
        }
        POSIX::_exit(0);
    }

    close $tell;
    my $line = <$ready>;
    close $ready;

    push @Background, $pid;
}

add_cleanup_handler(sub {
    waitpid($_, 0) for splice @Background;
});

sub request_count ($) {
    my ($block) = @_;
    if (my $p = $block->pipelined_requests) {
        return ref $p eq 'ARRAY' ? scalar @$p : 1;
    }
    return 1 if defined $block->raw_request;
    my $r = $block->request;
    return ref $r eq 'ARRAY' ? scalar @$r : 1;
}

sub pretty ($) { $JSON->encode($_[0]) }

add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    my $name = $block->name;

    my $log = $block->kochava_mock_log or return;
    return if $req_idx < request_count($block) - 1;
    my $path = server_root() . "/$log";

    # what the block expects
    my %want;
    for my $dest (sort keys %DEST_URI) {
        my $text = $block->$dest;
        next unless defined $text;
        my ($v, $err) = decode_json_text($text);
        if ($err || ref $v ne 'ARRAY') {
            fail("$name - --- $dest is a JSON array");
            diag($err // "got: $text");
            next;
        }
        $want{$dest} = $v;
    }
    my $want_spool;
    if (defined(my $text = $block->spool)) {
        my ($v, $err) = decode_json_text($text);
        if ($err || ref $v ne 'ARRAY') {
            fail("$name - --- spool is a JSON array");
            diag($err // "got: $text");
        } else {
            $want_spool = $v;
        }
    }
    my $likes = $block->upstream_requests_like;
    my @likes = !defined $likes ? () : ref $likes eq 'ARRAY' ? @$likes
                                                             : ($likes);

    if ($dry_run) {
        SKIP: { skip("$name - upstream checks (dry run)", 1) }
        return;
    }

    # wait until the expected requests are in (they normally are already)
    my $deadline = Time::HiRes::time() + $MockWait;
    my ($recs, $len);
    while (1) {
        ($recs, $len) = read_mock_log($path);
        my $enough = 1;
        for my $dest (keys %want) {
            my $n = grep { $_->{uri} =~ $DEST_URI{$dest} } @$recs;
            $enough = 0 if $n < @{$want{$dest}};
        }
        $enough = 0 if @likes && !@$recs;
        $enough = 0 if $want_spool && spool_lines() < @$want_spool;
        last if $enough || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.02);
    }
    Time::HiRes::sleep(0.05);              # let stragglers (extra ones) in
    ($recs, $len) = read_mock_log($path);
    $LogPos{$path} = ($LogPos{$path} // 0) + $len;

    for my $dest (sort keys %want) {
        my @got;
        for my $r (grep { $_->{uri} =~ $DEST_URI{$dest} } @$recs) {
            my ($v, $err) = decode_json_text($r->{body} // '');
            push @got, $err ? "(not JSON) " . ($r->{body} // '') : $v;
        }
        my $want = $want{$dest};
        my ($missing, $extra) = multiset_diff($want, \@got);
        ok(!@$missing && !@$extra,
           "$name - $dest: the upstream got the " . scalar(@$want)
           . " expected bodies (got " . scalar(@got) . ")");
        diag("expected, not received:\n    " . pretty($want->[$_]))
            for @$missing;
        diag("received, not expected:\n    "
             . (ref $got[$_] ? pretty($got[$_]) : $got[$_]))
            for @$extra;
    }

    if ($want_spool) {
        my $got = read_spool();
        my ($missing, $extra) = multiset_diff($want_spool, $got);
        ok(!@$missing && !@$extra,
           "$name - spool: the " . scalar(@$want_spool)
           . " expected records (got " . scalar(@$got) . ")");
        diag("expected, not spooled:\n    " . pretty($want_spool->[$_]))
            for @$missing;
        diag("spooled, not expected:\n    "
             . (ref $got->[$_] ? pretty($got->[$_]) : $got->[$_]))
            for @$extra;
    }

    for my $pat (@likes) {
        my $re = ref $pat eq 'Regexp' ? $pat : qr/$pat/;
        my @bad = grep { $_->{raw} !~ $re } @$recs;
        ok(@$recs && !@bad,
           "$name - upstream_requests_like $re: all " . scalar(@$recs)
           . " upstream requests match");
        diag("no upstream request recorded") unless @$recs;
        diag("not matching: $_->{raw}") for @bad;
    }
});

1;
