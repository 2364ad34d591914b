package t::Metrics;

# A "--- metrics" section for the t/*.t suites (load after t::TestKochava):
# every non-blank line of it must be a whole line of the body of the
# block's last response, e.g. a GET of a "kochava_status" location:
#
#     --- metrics
#     kochava_messages_accepted_total 3
#     kochava_upstream_requests_total{destination="kochava",result="ok"} 2
#
# Lines starting with "!" must not be in it.

use strict;
use warnings;

use Test::More ();

t::TestKochava::add_known_sections('metrics');

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;

    my $want = eval { $block->metrics };
    return unless defined $want;
    return if $req_idx < t::TestKochava::request_count($block) - 1;

    my $name = $block->name;

    if ($dry_run) {
        SKIP: { Test::More::skip("$name - metrics (dry run)", 1) }
        return;
    }

    my %have = map { $_ => 1 } split /\n/, $body // '';
    my (@missing, @present);

    for my $line (grep { /\S/ } split /\n/, $want) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!//) {
            push @present, $line if $have{$line};
        } else {
            push @missing, $line unless $have{$line};
        }
    }

    Test::More::ok(!@missing && !@present,
                   "$name - metrics: the expected lines");
    Test::More::diag("missing: $_") for @missing;
    Test::More::diag("present: $_") for @present;
    if (@missing) {
        Test::More::diag("body:\n" . join("\n", grep { !/^#/ }
                                          split /\n/, $body // ''));
    }
});

1;
