package EdgeTest;

# Helpers of the shell-level suites that run a real nginx (master and
# workers) from a prefix under build/: tests/spool/spool.t,
# tests/e2e/outage.t.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(nginx_cmd wait_for spool_files spool_pending
                    worker_user);

my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';

# runs nginx with the prefix's nginx.conf (to start it, or with -s ...);
# its stderr ("signal process started") goes to logs/nginx.stderr, out of
# the TAP output
sub nginx_cmd {
    my ($prefix, @args) = @_;
    open my $saved, '>&', \*STDERR or die $!;
    open STDERR, '>>', "$prefix/logs/nginx.stderr" or die $!;
    my $rc = system($NGINX, '-p', "$prefix/", '-c', "$prefix/nginx.conf",
                    @args);
    open STDERR, '>&', $saved or die $!;
    return $rc;
}

# the "user" line of a test's nginx.conf: as root, the workers run as root
# too (as Test::Nginx does), since the checkout may sit under a directory
# that nobody else can enter (root's home, a mktemp -d folder) and the
# workers must reach the prefix's spool, logs and temp files
sub worker_user {
    return $> == 0 ? "user root;" : "";
}

# polls $cond every 50 ms for at most $secs seconds; true once it held
sub wait_for {
    my ($cond, $secs) = @_;
    my $deadline = time + $secs;
    until ($cond->()) {
        return 0 if time > $deadline;
        sleep 0.05;
    }
    return 1;
}

# the names in $dir matching $re, sorted (in scalar context: how many)
sub spool_files {
    my ($dir, $re) = @_;
    opendir my $d, $dir or return ();
    my @files = sort grep { /$re/ } readdir $d;
    return @files;
}

# the records of $dir's spool files (.jsonl and .part) that kochava-replay
# would send: whole lines, journal records not marked done by a
# {"done":[...]} line of their file; parsed (hash refs), or the raw line
# when it is not JSON
sub spool_pending {
    my ($dir) = @_;
    my @recs;
    for my $f (spool_files($dir, qr/^kochava-.*\.jsonl(\.part)?$/)) {
        open my $fh, '<', "$dir/$f" or next;
        my (@lines, %done);
        while (my $line = <$fh>) {
            next unless $line =~ /\n\z/;
            if ($line =~ /\A\{"done":\[([\d,]*)\]\}\n\z/) {
                $done{$_} = 1 for split /,/, $1;
                next;
            }
            push @lines, $line;
        }
        for my $line (@lines) {
            my $r = eval { JSON::PP::decode_json($line) } // $line;
            next if ref $r && defined $r->{id} && $done{$r->{id}};
            push @recs, $r;
        }
    }
    return @recs;
}

1;
