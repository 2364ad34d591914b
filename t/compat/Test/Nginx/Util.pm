package Test::Nginx::Util;

# The engine of our small Test::Nginx::Socket work-alike: settings, the
# generated nginx.conf, starting and stopping nginx, a blocking HTTP/1.1
# client, and the checks run for each block.  Written from the documented
# behaviour of Test::Nginx (CPAN); used only where that one is not installed
# (the Makefile puts -It/compat on prove's command line in that case).
#
# Test::Nginx::Socket (next to this file) is the Test::Base subclass the test
# files use; it re-exports the functions below.

use strict;
use warnings;

use Cwd qw(cwd);
use File::Path qw(make_path remove_tree);
use IO::Select;
use IO::Socket::INET;
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Time::HiRes qw(sleep time);
use Test::More;

use Exporter 'import';

our @EXPORT = qw(
    run_tests repeat_each no_shuffle no_long_string log_level
    master_on master_off workers worker_connections env_to_nginx
    check_accum_error_log add_block_preprocessor add_response_body_check
    add_cleanup_handler no_root_location server_name server_root
    server_port html_dir timeout bail_out
    $ServRoot $ServerPort $ServerPortForClient $HtmlDir $LogDir $ErrLogFile
    $AccLogFile
);

# --------------------------------------------------------------------------
# settings (environment first, then the functions the test file calls)

our $NginxBinary   = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerPort    = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                     || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerName    = 'localhost';
our $LogLevel      = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $Timeout       = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $UseValgrind   = $ENV{TEST_NGINX_USE_VALGRIND};
our $NoClean       = $ENV{TEST_NGINX_NO_CLEAN};
our $FailOnAlert   = $ENV{TEST_NGINX_FAIL_ON_ALERT};
our $NoShuffle     = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $MasterProcess = ($ENV{TEST_NGINX_MASTER_PROCESS} || 'off') eq 'on';
our $RepeatEach    = 1;
our $Workers       = 1;
our $WorkerConnections = 64;
our $NoLongString  = 0;
our $NoRootLocation = 0;
our $CheckAccumErrLog = 0;
our @EnvToNginx;
our @BlockPreprocessors;
our @ResponseBodyChecks;
our @CleanupHandlers;

our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || cwd() . '/t/servroot';
$ServRoot = cwd() . "/$ServRoot" unless $ServRoot =~ m{^/};
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $HtmlDir    = "$ServRoot/html";
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $ValgrindLog = "$LogDir/valgrind.log";

# state kept between blocks
our $PrevConfig;        # the nginx.conf nginx is running with
our $PrevBlock;         # the block run before this one
our $NginxPid;          # its pid (our child when under valgrind)
our $ValgrindPos = 0;   # how much of valgrind.log has been reported
our $ErrLogStart = 0;   # error.log size when nginx was (re)started

sub repeat_each (@)     { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle ()       { $NoShuffle = 1 }
sub no_long_string ()   { $NoLongString = 1 }
sub log_level (@)       { $LogLevel = shift if @_; $LogLevel }
sub master_on ()        { $MasterProcess = 1 }
sub master_off ()       { $MasterProcess = 0 }
sub workers (@)         { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_;
                             $WorkerConnections }
sub env_to_nginx (@)    { push @EnvToNginx, @_ }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub server_name (@)     { $ServerName = shift if @_; $ServerName }
sub server_root ()      { $ServRoot }
sub server_port (@)     { $ServerPort = shift if @_; $ServerPort }
sub html_dir ()         { $HtmlDir }
sub timeout (@)         { $Timeout = shift if @_; $Timeout }

# preprocessors run once per block, before it runs (last added runs first,
# like the real one)
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

# called after every response with ($block, $body, $req_idx,
# $repeated_req_idx, $dry_run)
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub add_cleanup_handler ($) { push @CleanupHandlers, shift }

sub bail_out (@) {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}

# "300ms", "2s", "2" -> seconds
sub parse_time ($) {
    my ($t) = @_;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

# $TEST_NGINX_FOO -> $ENV{TEST_NGINX_FOO}; a missing one is a bail-out
sub expand_env ($$) {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

# --------------------------------------------------------------------------
# the main loop

sub run_tests () {
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
        $PrevBlock = $block;
    }

    stop_nginx() unless $NoClean;
    check_valgrind_log($PrevBlock);
    $_->() for @CleanupHandlers;
}

sub run_block ($) {
    my ($block) = @_;
    my $name = $block->name;

    my $conf = build_config($block);

    if (defined $block->must_die) {
        return run_must_die($block, $conf);
    }

    if (!defined $PrevConfig || $conf ne $PrevConfig || !nginx_alive()) {
        stop_nginx();
        check_valgrind_log($PrevBlock);   # leaks are reported at exit
        prepare_servroot(!defined $PrevConfig);
        write_file($ConfFile, $conf);
        write_user_files($block);

        undef $PrevConfig;
        my $err = start_nginx();
        if (defined $err) {
            fail("$name - nginx started");
            diag($err);
            return;
        }
        $PrevConfig = $conf;

    } else {
        write_user_files($block);
    }

    my $block_start = -s $ErrLogFile || 0;
    my $timeout = parse_time($block->timeout);
    $timeout = $Timeout unless defined $timeout;
    $timeout *= 3 if $UseValgrind;

    for my $rep (0 .. $RepeatEach - 1) {
        my $rep_start = $CheckAccumErrLog ? $block_start
                                          : (-s $ErrLogFile || 0);
        run_requests($block, $rep, $timeout);

        sleep(parse_time($block->wait)) if $block->wait;
        sleep(0.05);     # the log phase may run after the response is sent

        check_error_log($block, read_from($ErrLogFile, $rep_start), $rep);
    }

    if (!nginx_alive()) {
        fail("$name - nginx is still running after the block");
        diag(tail_of(read_from($ErrLogFile, $block_start), 20));
        undef $PrevConfig;
    }

    check_valgrind_log($block);
}

# "--- must_die": nginx must refuse the configuration; the error_log
# sections are checked against what it printed
sub run_must_die ($$) {
    my ($block, $conf) = @_;
    my $name = $block->name;

    stop_nginx();
    check_valgrind_log($PrevBlock);
    prepare_servroot(!defined $PrevConfig);
    write_file($ConfFile, $conf);
    write_user_files($block);
    undef $PrevConfig;

    my $out = "$LogDir/nginx.stderr";
    my $cmdline = join ' ', map { quotemeta }
                  ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    my $rc = system("$cmdline >$out 2>&1");

    ok($rc != 0, "$name - nginx refused to start");
    if ($rc == 0) {
        stop_nginx();
        return;
    }

    check_error_log($block, slurp($out) . (slurp($ErrLogFile) // ''), 0);
}

# --------------------------------------------------------------------------
# nginx.conf

sub build_config ($) {
    my ($block) = @_;
    my $name = $block->name;

    my $main = expand_env($block->main_config // '', $name);
    my $post_main = expand_env($block->post_main_config // '', $name);
    my $http = expand_env($block->http_config // '', $name);
    my $server = expand_env($block->config // '', $name);
    my $level = $block->log_level // $LogLevel;

    my $modules = join '',
        map { "load_module $_;\n" }
        grep { length } split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';

    my $env = join '', map { "env $_;\n" } @EnvToNginx;

    my ($daemon, $master) = ('on', $MasterProcess ? 'on' : 'off');
    ($daemon, $master) = ('off', 'off') if $UseValgrind;

    my $root = $NoRootLocation ? '' : <<"EOF";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
EOF

    return <<"EOF";
# generated by t/compat Test::Nginx::Socket for: $name
${modules}worker_processes $Workers;
daemon $daemon;
master_process $master;
error_log $ErrLogFile $level;
pid $PidFile;
$env
$main

http {
    access_log $AccLogFile;

    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path $ServRoot/proxy_temp;
    fastcgi_temp_path $ServRoot/fastcgi_temp;
    uwsgi_temp_path $ServRoot/uwsgi_temp;
    scgi_temp_path $ServRoot/scgi_temp;

    default_type text/plain;
    keepalive_timeout 68;

$http

    server {
        listen $ServerPort;
        server_name $ServerName;
        client_max_body_size 30M;

$server

$root    }
}

$post_main

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}
EOF
}

sub write_file ($$) {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("cannot write $path: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# "--- user_files": ">>> path" lines, each followed by the file's content
sub write_user_files ($) {
    my ($block) = @_;
    my $files = $block->user_files or return;
    my @files;
    if (ref $files eq 'ARRAY') {
        @files = @$files;
    } else {
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)/) {
                push @files, [$1, ''];
            } elsif (@files) {
                $files[-1][1] .= $line;
            }
        }
    }
    for my $f (@files) {
        my $path = "$HtmlDir/$f->[0]";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir);
        write_file($path, $f->[1] // '');
    }
}

# --------------------------------------------------------------------------
# nginx process

sub prepare_servroot ($) {
    my ($first) = @_;
    if ($first && -d $ServRoot) {
        # be careful not to remove something that is not ours
        bail_out("$ServRoot exists and does not look like a servroot")
            if -e "$ServRoot/.." && !-d $ConfDir && glob("$ServRoot/*");
        remove_tree($ServRoot);
    }
    remove_tree($LogDir, $ConfDir, glob("$ServRoot/*_temp"));
    make_path($ConfDir, $LogDir, $HtmlDir);
    $ValgrindPos = 0;
}

# returns undef on success, else a message with what nginx said
sub start_nginx () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    my $out = "$LogDir/nginx.stderr";

    if ($UseValgrind) {
        # definite leaks and memory errors only: nginx itself leaves its
        # cycle's memory "possibly lost" at exit
        my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                  '--show-leak-kinds=definite',
                  '--errors-for-leak-kinds=definite', '--num-callers=30',
                  "--log-file=$ValgrindLog");
        (my $here = __FILE__) =~ s{[^/]*$}{};
        for my $supp ("$here../../valgrind.suppress", 'valgrind.suppress') {
            push @vg, "--suppressions=$supp" if -f $supp;
        }
        my $pid = fork // bail_out("fork: $!");
        if ($pid == 0) {
            open STDOUT, '>', $out;
            open STDERR, '>&', \*STDOUT;
            exec @vg, @cmd or POSIX::_exit(127);
        }
        $NginxPid = $pid;

    } else {
        my $cmdline = join(' ', map { quotemeta } @cmd);
        if (system("$cmdline >$out 2>&1") != 0) {
            return "nginx failed to start ($?):\n" . slurp($out)
                   . tail_of(slurp($ErrLogFile), 20);
        }
    }

    # wait for the pid file and the listening socket
    my $deadline = time + ($UseValgrind ? 30 : 5);
    while (time < $deadline) {
        if ($UseValgrind && waitpid($NginxPid, WNOHANG) == $NginxPid) {
            undef $NginxPid;
            return "nginx (under valgrind) exited at start:\n" . slurp($out)
                   . slurp($ValgrindLog) . tail_of(slurp($ErrLogFile), 20);
        }
        if (!$UseValgrind && -s $PidFile) {
            ($NginxPid) = slurp($PidFile) =~ /(\d+)/;
        }
        if ($NginxPid) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $ServerPortForClient,
                                          Proto => 'tcp', Timeout => 1);
            if ($s) {
                close $s;
                $ErrLogStart = -s $ErrLogFile || 0;
                return undef;
            }
        }
        sleep 0.02;
    }
    return "nginx did not listen on port $ServerPortForClient:\n"
           . tail_of(slurp($ErrLogFile), 20);
}

sub nginx_alive () {
    return 0 unless $NginxPid;
    if ($UseValgrind) {
        return waitpid($NginxPid, WNOHANG) == 0;
    }
    return pid_alive($NginxPid);
}

# a zombie is dead too (our pid 1 may be slow to reap the daemon)
sub pid_alive ($) {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        return 0 if $line =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

sub stop_nginx () {
    my $pid = $NginxPid;
    if (!$pid && -s $PidFile) {
        ($pid) = slurp($PidFile) =~ /(\d+)/;     # left by an earlier run
    }
    undef $NginxPid;
    return unless $pid && pid_alive($pid);

    # QUIT (graceful), then TERM, then KILL
    for my $sig (SIGQUIT, SIGTERM, SIGKILL) {
        kill $sig, $pid;
        my $deadline = time + ($UseValgrind ? 20 : 3);
        while (time < $deadline) {
            waitpid($pid, WNOHANG) if $UseValgrind;
            return unless pid_alive($pid);
            sleep 0.02;
        }
    }
}

# valgrind's findings become test failures of the block that ran last
sub check_valgrind_log ($) {
    my ($block) = @_;
    # nothing ran yet: a valgrind.log there is an earlier run's
    return unless $block && $UseValgrind && -s $ValgrindLog;
    my $new = read_from($ValgrindLog, $ValgrindPos);
    $ValgrindPos += length $new;
    return unless $new =~ /\S/;
    my $name = $block->name;
    fail("$name - valgrind found no errors");
    diag($new);
}

# --------------------------------------------------------------------------
# requests

# the block's requests as a list of [packet, ...] (a packet is a string or
# {value => ..., delay_before => seconds}); plus how many responses each
# connection yields
sub requests_of ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $more = $block->more_headers;

    my $headers_for = sub {
        my ($i) = @_;
        my $h = ref $more eq 'ARRAY' ? $more->[$i] : $more;
        bail_out("$name - --- more_headers lacks data for request $i")
            if ref $more eq 'ARRAY' && !defined $h;
        return $h // '';
    };

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        return ([ref $raw eq 'ARRAY' ? @$raw : $raw], [1]);
    }

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - --- pipelined_requests must be an array")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            $all .= build_request($name, expand_env($reqs->[$i], $name),
                                  $headers_for->($i),
                                  $i == $#$reqs ? 'close' : 'keep-alive');
        }
        return ([$all], [scalar @$reqs]);
    }

    my $req = $block->request;
    bail_out("$name - no --- request, raw_request or pipelined_requests")
        unless defined $req;

    my @list = ref $req eq 'ARRAY' ? @$req : ($req);
    my (@conns, @counts);
    for my $i (0 .. $#list) {
        my $one = $list[$i];
        if (ref $one eq 'ARRAY') {
            # packets: the request is built from their concatenation, then
            # cut again at the same places (headers go into the first one)
            my @packets = map { ref $_ ? {%$_} : {value => $_} } @$one;
            my $joined = join '', map { $_->{value} } @packets;
            my $full = build_request($name, $joined, $headers_for->($i),
                                     'close');
            my $extra = length($full) - length($joined);
            my $pos = 0;
            for my $j (0 .. $#packets) {
                my $len = length $packets[$j]{value};
                $len += $extra if $j == 0;
                $len = length($full) - $pos if $j == $#packets;
                $packets[$j]{value} = substr($full, $pos, $len);
                $pos += $len;
            }
            push @conns, \@packets;
        } else {
            push @conns, [build_request($name, $one, $headers_for->($i),
                                        'close')];
        }
        push @counts, 1;
    }
    return (@conns, \@counts);
}

# "METHOD /uri [HTTP/x]\nbody" plus "Name: value" lines -> HTTP bytes
sub build_request ($$$$) {
    my ($name, $text, $more, $conn) = @_;

    $text =~ s/\A(?:\s*#[^\n]*\n|\s+)+//;    # leading comments and blanks
    my ($line, $body) = split /\n/, $text, 2;
    $body //= '';
    $line =~ s/\r$//;
    my ($meth, $uri, $proto) = split ' ', $line;
    bail_out("$name - invalid request line \"$line\"") unless defined $meth;
    $uri //= '/';
    $proto //= 'HTTP/1.1';

    my $headers = '';
    for my $h (split /\n+/, $more) {
        next if $h =~ /^\s*(?:#|$)/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $headers .= "$k: " . ($v // '') . "\r\n";
    }

    my $chunked = $headers =~ /^Transfer-Encoding:\s*chunked/mi;
    my $has_len = $headers =~ /^Content-Length:/mi;

    my $head = "$meth $uri $proto\r\n";
    $head .= "Host: $ServerName\r\n" unless $headers =~ /^Host:/mi;
    $head .= "Connection: $conn\r\n" unless $headers =~ /^Connection:/mi;
    $head .= $headers;
    if (!$chunked && !$has_len && length $body) {
        $body =~ s/^\s+|\s+$//g;                # like the real one
        $head .= 'Content-Length: ' . length($body) . "\r\n";
    }
    return "$head\r\n$body";
}

# one connection: send the packets, read until EOF (or the deadline)
# returns (raw response bytes, error or undef)
sub send_request ($$) {
    my ($packets, $timeout) = @_;

    my $deadline = time + $timeout;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ServerPortForClient,
                                     Proto => 'tcp', Timeout => $timeout)
        or return ('', "cannot connect to 127.0.0.1:$ServerPortForClient: $!");
    $sock->blocking(0);
    binmode $sock;
    my $sel = IO::Select->new($sock);
    my $resp = '';

    my $read_some = sub {
        my $n = sysread($sock, my $buf, 65536);
        return 0 if defined $n && $n == 0;                  # EOF
        $resp .= $buf if $n;
        return 1;
    };

    for my $p (@$packets) {
        my ($data, $delay) = ref $p ? ($p->{value}, $p->{delay_before})
                                    : ($p, undef);
        sleep($delay) if $delay;
        while (length $data) {
            my $left = $deadline - time;
            return ($resp, "timeout while sending") if $left <= 0;
            if (my ($w) = IO::Select->new($sock)->can_write($left)) {
                my $n = syswrite($sock, $data);
                if (!defined $n) {
                    next if $!{EAGAIN} || $!{EINTR};
                    last;                  # peer closed: read what it said
                }
                substr($data, 0, $n, '');
            }
        }
        # a packet boundary: let nginx see it alone
        sleep 0.01 if @$packets > 1;
    }

    while (1) {
        my $left = $deadline - time;
        return ($resp, "timeout ($timeout s) while reading the response")
            if $left <= 0;
        next unless $sel->can_read($left);
        last unless $read_some->();
    }
    close $sock;
    return ($resp, undef);
}

# parses one response from the front of $$raw (which it consumes):
# {status, reason, headers => [[name, value], ...], raw_headers, body}
sub parse_response ($$) {
    my ($raw, $head_req) = @_;

    $$raw =~ s/\A(HTTP\/\d\.\d) (\d{3})([^\r\n]*)\r?\n(.*?)\r?\n\r?\n//s
        or return undef;
    my %res = (status => $2, reason => $3, raw_headers => $4, body => '');
    $res{reason} =~ s/^ //;
    for my $line (split /\r?\n/, $res{raw_headers}) {
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        push @{$res{headers}}, [$k, $v];
    }

    my $te = header_value(\%res, 'Transfer-Encoding') // '';
    my $cl = header_value(\%res, 'Content-Length');

    if ($head_req || $res{status} =~ /^(?:1..|204|304)$/) {
        # no body
    } elsif ($te =~ /chunked/i) {
        $res{chunked} = 1;
        while ($$raw =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $size = hex $1;
            if ($size == 0) {
                $$raw =~ s/\A(?:[^\r\n]+\r\n)*\r\n//;      # trailers
                last;
            }
            $res{body} .= substr($$raw, 0, $size, '');
            $$raw =~ s/\A\r\n// or do { $res{bad_chunk} = 1; last };
        }
    } elsif (defined $cl) {
        $res{body} = substr($$raw, 0, $cl, '');
        $res{short_body} = 1 if length $res{body} < $cl;
    } else {
        $res{body} = $$raw;                 # until the connection closed
        $$raw = '';
    }
    return \%res;
}

sub header_value ($$) {
    my ($res, $name) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name }
            @{$res->{headers} || []};
    return @v ? join(', ', @v) : undef;
}

sub run_requests ($$$) {
    my ($block, $rep, $timeout) = @_;
    my $name = $block->name;

    my @conns = requests_of($block);
    my $counts = pop @conns;
    my $total = 0;
    $total += $_ for @$counts;
    my $need_array = $total > 1;

    my $req_idx = 0;
    for my $c (0 .. $#conns) {
        my $first = ref $conns[$c][0] ? $conns[$c][0]{value} : $conns[$c][0];
        my ($raw, $err) = send_request($conns[$c], $timeout);
        if (defined $err) {
            fail("$name - request ($req_idx) completed");
            diag($err);
        }

        for my $n (1 .. $counts->[$c]) {
            my $res = parse_response(\$raw, $first =~ /^\s*HEAD\s/);
            if (!$block->ignore_response) {
                check_response($block, $res, $req_idx, $rep, $need_array);
            }
            $req_idx++;
        }
    }
}

# --------------------------------------------------------------------------
# checks

# a section's value for request $idx (arrays are indexed when the block has
# several requests)
sub indexed ($$$$) {
    my ($name, $val, $idx, $need_array) = @_;
    return $val unless ref $val eq 'ARRAY' && $need_array;
    bail_out("$name - the array has no element for request $idx")
        unless $idx < @$val;
    return $val->[$idx];
}

sub is_str ($$$) {
    my ($got, $want, $title) = @_;
    if ($NoLongString || !defined $got || !defined $want
        || $got eq $want || $want !~ /\n./s)
    {
        return is($got, $want, $title);
    }
    ok(0, $title);
    if (eval { require Text::Diff; 1 }) {
        diag(Text::Diff::diff(\$want, \$got));
    } else {
        diag("got:\n$got\nexpected:\n$want");
    }
    return 0;
}

sub check_response ($$$$$) {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $tag = $need_array ? "$name (req $idx)" : $name;

    if (!$res) {
        fail("$tag - got an HTTP response");
        $res = {status => '', headers => [], body => '', raw_headers => ''};
    }
    diag("$tag - malformed chunked body") if $res->{bad_chunk};
    diag("$tag - body shorter than Content-Length") if $res->{short_body};

    # status
    if (defined $block->error_code_like) {
        my $pat = indexed($name, $block->error_code_like, $idx, $need_array);
        like($res->{status}, qr/$pat/, "$tag - status code ok");
    } else {
        my $want = defined $block->error_code
            ? indexed($name, $block->error_code, $idx, $need_array) : 200;
        $want =~ s/^\s+|\s+$//g;
        is($res->{status}, $want, "$tag - status code ok");
    }

    # headers: "Name: value" (exact), "!Name" (absent)
    for my $kind (qw(response_headers response_headers_like)) {
        my $spec = $block->$kind;
        next unless defined $spec;
        $spec = indexed($name, $spec, $idx, $need_array);
        for my $line (split /\n/, $spec) {
            next unless $line =~ /\S/;
            if ($line =~ /^\s*!\s*(\S+?)\s*:?\s*$/) {
                ok(!defined header_value($res, $1),
                   "$tag - header $1 not present");
                next;
            }
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/ or next;
            my $got = header_value($res, $k);
            if ($kind eq 'response_headers_like') {
                like($got // '', qr/^$v$/, "$tag - header $k like ok");
            } elsif ($v eq '') {
                ok(!defined $got || $got eq '', "$tag - header $k empty");
            } else {
                is($got, $v, "$tag - header $k ok");
            }
        }
    }

    # body
    my $body = $res->{body};
    if (defined $block->response_body) {
        my $want = indexed($name, $block->response_body, $idx, $need_array);
        $want = expand_env($want, $name) unless ref $want;
        if (ref $want eq 'Regexp') {
            like($body, $want, "$tag - response_body - like");
        } else {
            is_str($body, $want, "$tag - response_body - response is expected");
        }
    }
    for my $kind (qw(like unlike)) {
        my $pat = $block->${\"response_body_$kind"};
        next unless defined $pat;
        $pat = indexed($name, $pat, $idx, $need_array);
        my $re = ref $pat eq 'Regexp' ? $pat : qr/$pat/s;
        if ($kind eq 'like') {
            like($body, $re, "$tag - response_body_like - response is expected");
        } else {
            unlike($body, $re, "$tag - response_body_unlike - response is expected");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $body, $idx, $rep, 0);
    }
}

# patterns of a log section: a string (one substring a line), a qr//, or an
# array of those
sub log_patterns ($) {
    my ($val) = @_;
    return () unless defined $val;
    my @pats = ref $val eq 'ARRAY' ? @$val : ($val);
    return map { ref $_ ? $_ : (grep { length } split /\n+/, $_) } @pats;
}

sub log_match ($$) {
    my ($log, $pat) = @_;
    return ref $pat ? $log =~ $pat : index($log, $pat) >= 0;
}

my $ALARMING = qr/\[(?:alert|crit|emerg)\]|exited on signal \d+
                 |core dumped|segmentation fault/xi;

sub check_error_log ($$$) {
    my ($block, $log, $rep) = @_;
    my $name = $block->name;

    my @want = log_patterns($block->error_log);
    for my $p (@want) {
        ok(log_match($log, $p), "$name - pattern \"$p\" should match a line "
                                . "in error.log (req $rep)");
    }
    for my $p (log_patterns($block->no_error_log)) {
        my $hit = ref $p ? ($log =~ /^(.*$p.*)$/m)[0]
                         : (grep { index($_, $p) >= 0 } split /\n/, $log)[0];
        ok(!defined $hit, "$name - pattern \"$p\" does not match a line in "
                          . "error.log (req $rep)");
        diag("matched: $hit") if defined $hit;
    }

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        bail_out("$name - --- grep_error_log without --- grep_error_log_out")
            unless defined $want;
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        my $out = '';
        for my $line (split /^/, $log) {
            if (ref $grep ? $line =~ $grep : $line =~ /\Q$grep\E/) {
                $out .= "$&\n" unless $& =~ /\n/;
            }
        }
        if (ref $want eq 'Regexp') {
            like($out, $want, "$name - grep_error_log_out (req $rep)");
        } else {
            is_str($out, expand_env($want, $name),
                   "$name - grep_error_log_out (req $rep)");
        }
    }

    # alarming lines: a warning like the real one; a failure when asked
    my @bad = grep { /$ALARMING/ } split /\n/, $log;
    @bad = grep { my $l = $_; !grep { log_match($l, $_) } @want } @bad;
    if (@bad) {
        if ($FailOnAlert) {
            fail("$name - no [alert], [crit], [emerg] or crash in error.log");
            diag($_) for @bad[0 .. ($#bad > 9 ? 9 : $#bad)];
        } else {
            warn "WARNING: $name - $_\n" for @bad;
        }
    }
}

# --------------------------------------------------------------------------
# small file helpers

sub slurp ($) {
    my ($path) = @_;
    open my $in, '<', $path or return '';
    binmode $in;
    local $/;
    return scalar <$in>;
}

sub read_from ($$) {
    my ($path, $pos) = @_;
    open my $in, '<', $path or return '';
    binmode $in;
    # the file was truncated or replaced: read all of it
    seek $in, $pos, 0 if $pos <= (-s $in || 0);
    local $/;
    return scalar(<$in>) // '';
}

sub tail_of ($$) {
    my ($text, $n) = @_;
    my @l = split /\n/, $text // '';
    @l = @l[-$n .. -1] if @l > $n;
    return join('', map { "$_\n" } @l);
}

1;
