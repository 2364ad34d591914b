package t::LogLimit;

# A "--- log_limited" section for the t/*.t suites (load after
# t::TestKochava): errors logged at most once a second with a count of the
# others (ngx_http_kochava_ratelimit.h).  After the block's last request,
# for each [qr/line/, total, max_lines] of the section (eval, one such
# array or an array of them):
#
# - at most max_lines lines of the error log match qr/line/;
# - every occurrence is accounted for: each such line is one, plus the N
#   of its "(N more since the last such line)"; a timer's summary line,
#   '...: N more "gist" since the last such line', stands for its N.
#
#     --- log_limited eval
#     [qr/spool ".*" is full.*request was dropped/, 200, 4]
#
# The error log is the block's own (the runner starts every block with a
# new one); the occurrences whose count is still held by the limiter are
# the block's business (a pause past a spool's interval flushes them).

use strict;
use warnings;

use Test::More ();

t::TestKochava::add_known_sections('log_limited');

sub error_lines () {
    my $file = $Test::Nginx::Util::ErrLogFile;
    open my $in, '<', $file or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;

    my $want = eval { $block->log_limited };
    return unless defined $want;
    return if $req_idx < t::TestKochava::request_count($block) - 1;

    my $name = $block->name;

    $want = [$want] unless ref $want->[0] eq 'ARRAY';

    if ($dry_run) {
        SKIP: { Test::More::skip("$name - log_limited (dry run)",
                                 2 * @$want) }
        return;
    }

    my $lines = error_lines();

    for my $w (@$want) {
        my ($re, $total, $max) = @$w;
        my @hit = grep { /$re/ } @$lines;
        my $seen = 0;
        for (@hit) {
            if (/: (\d+) more "[^"]*" since the last such line/) {
                $seen += $1;
            } elsif (/\((\d+) more since the last such line\)/) {
                $seen += 1 + $1;
            } else {
                $seen++;
            }
        }

        Test::More::ok(@hit <= $max,
                       "$name - log_limited: at most $max lines like $re")
            or Test::More::diag(scalar(@hit) . " lines, the first: "
                                . ($hit[0] // ''));
        Test::More::is($seen, $total,
                       "$name - log_limited: $total occurrences of $re"
                       . " (lines + their counts)")
            or Test::More::diag("lines:\n", @hit[0 .. ($#hit < 9
                                                        ? $#hit : 9)]);
    }
});

1;
