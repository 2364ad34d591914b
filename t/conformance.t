# Every conformance case (/work/shared/conformance/*.json, or the directory
# in $KOCHAVA_CONFORMANCE_DIR), run unchanged against nginx with the module.
#
# One Test::Nginx block per case is generated and handed to Test::Base with
# spec_string(), as the real Test::Nginx::Socket reads blocks.  The case data stays in @main::CASES; the block's
# sections refer to it with "eval" (t::TestKochava evaluates those in main).
#
# Per case:
# - http_config: a map $kochava_write_key -> $kochava_app from
#   config.write_keys;
# - config: location /v1/ with the module, Braze only when config.braze;
#   the pass locations are t::TestKochava's defaults (the recording mock);
# - the request is sent as raw bytes: method, path, the case's headers (plus
#   Host, Connection: close and Content-Length), body as compact JSON or
#   body_raw byte for byte (UTF-8);
# - expect.status, expect.body (every key given present and equal; arrays
#   item by item), expect.error_mentions (in "message", or in each
#   rejected[].error when the answer has rejections), and expect.kochava /
#   kochava_identity / braze (multisets of bodies, by t::TestKochava).

use lib '.';
use t::TestKochava;
use Cwd ();
use JSON::PP ();

t::TestKochava::add_known_sections(qw(conformance_case));

our @CASES;

my $DIR = $ENV{KOCHAVA_CONFORMANCE_DIR} || '../shared/conformance';
my $BYTES = JSON::PP->new->utf8->canonical->allow_nonref;

# "..." for nginx.conf
sub ngx_quote {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    return qq{"$s"};
}

sub raw_request {
    my ($req) = @_;
    my $method = $req->{method} // 'POST';
    my $path = $req->{path} // '/';
    my %h = %{$req->{headers} || {}};

    my $body = '';
    if (exists $req->{body_raw}) {
        $body = $req->{body_raw};
        utf8::encode($body);
    } elsif (exists $req->{body}) {
        $body = $BYTES->encode($req->{body});
    }

    my %lc = map { lc($_) => 1 } keys %h;
    my $head = "$method $path HTTP/1.1\r\n";
    $head .= "Host: localhost\r\n" unless $lc{host};
    $head .= "Connection: close\r\n" unless $lc{connection};
    for my $k (sort keys %h) {
        my $v = $h{$k};
        utf8::encode($v);
        $head .= "$k: $v\r\n";
    }
    $head .= 'Content-Length: ' . length($body) . "\r\n"
        unless $lc{'content-length'} || $lc{'transfer-encoding'}
               || (!length $body && $method =~ /^(?:GET|HEAD|OPTIONS)$/);
    return "$head\r\n$body";
}

sub build_spec {
    my @files = sort glob("$DIR/*.json");
    my $spec = '';

    for my $file (@files) {
        (my $id = $file) =~ s{.*/|\.json$}{}g;
        my $case = eval {
            open my $in, '<', $file or die "$!\n";
            local $/;
            $BYTES->decode(scalar <$in>);
        };
        if (!$case) {
            push @CASES, {id => $id, error => "cannot read $file: $@"};
            next;
        }

        my $cfg = $case->{config} || {};
        my $keys = $cfg->{write_keys} || {};
        my $map = "    map \$kochava_write_key \$kochava_app {\n"
                  . "        default \"\";\n"
                  . join('', map { '        ' . ngx_quote($_) . ' '
                                   . ngx_quote($keys->{$_}) . ";\n" }
                             sort keys %$keys)
                  . "    }\n";
        my $loc = "    location /v1/ {\n"
                  . "        kochava_ingest;\n"
                  . "        kochava_app_id \$kochava_app;\n"
                  . "        kochava_pass /_kochava/track;\n"
                  . "        kochava_identity_pass /_kochava/identity;\n"
                  . ($cfg->{braze} ? "        kochava_braze_pass /_braze/track;\n"
                                   : '')
                  . "    }\n";

        my $exp = $case->{expect} || {};
        my %c = (
            id          => $id,
            case        => $case,
            http_config => $map,
            config      => $loc,
            raw         => raw_request($case->{request} || {}),
            status      => $exp->{status} // 200,
        );
        for my $dest (qw(kochava kochava_identity braze)) {
            $c{$dest} = $BYTES->encode($exp->{$dest}) if exists $exp->{$dest};
        }
        push @CASES, \%c;
        my $i = $#CASES;

        my $title = "$id" . ($case->{description} ? " - $case->{description}"
                                                   : '');
        $title =~ s/[\r\n]+/ /g;
        $spec .= "=== TEST " . ($i + 1) . ": $title\n"
               . "--- conformance_case: $i\n"
               . "--- http_config eval: \$main::CASES[$i]{http_config}\n"
               . "--- config eval: \$main::CASES[$i]{config}\n"
               . "--- raw_request eval: \$main::CASES[$i]{raw}\n"
               . "--- error_code eval: \$main::CASES[$i]{status}\n";
        for my $dest (qw(kochava kochava_identity braze)) {
            $spec .= "--- $dest eval: \$main::CASES[$i]{$dest}\n"
                if exists $c{$dest};
        }
        $spec .= "\n";
    }
    return $spec;
}

# expected (a JSON value from the case) against the answer: objects need
# the expected keys only; arrays item by item; scalars equal, type included
sub subset_diffs {
    my ($want, $got, $path, $diffs) = @_;
    if (ref $want eq 'HASH') {
        if (ref $got ne 'HASH') {
            push @$diffs, "$path: expected an object";
            return;
        }
        for my $k (sort keys %$want) {
            if (!exists $got->{$k}) {
                push @$diffs, "$path.$k: missing";
                next;
            }
            subset_diffs($want->{$k}, $got->{$k}, "$path.$k", $diffs);
        }
    } elsif (ref $want eq 'ARRAY') {
        if (ref $got ne 'ARRAY' || @$got != @$want) {
            push @$diffs, "$path: expected an array of " . scalar(@$want);
            return;
        }
        subset_diffs($want->[$_], $got->[$_], "$path\[$_]", $diffs)
            for 0 .. $#$want;
    } elsif (!t::TestKochava::json_match($want, $got)) {
        push @$diffs, "$path: expected " . $BYTES->encode($want);
    }
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    my $i = $block->conformance_case;
    return if !defined $i || $dry_run;
    my $name = $block->name;
    my $exp = $CASES[$i]{case}{expect} || {};
    return unless exists $exp->{body} || $exp->{error_mentions};

    my $resp = eval { $BYTES->decode($body) };
    if (!ref $resp) {
        fail("$name - the answer is a JSON object");
        diag("answer: $body");
        return;
    }

    if (exists $exp->{body}) {
        my @diffs;
        subset_diffs($exp->{body}, $resp, '', \@diffs);
        ok(!@diffs, "$name - the answer has the expected keys and values");
        diag("answer: $body") if @diffs;
        diag($_) for @diffs;
    }

    if (my $mentions = $exp->{error_mentions}) {
        my @texts;
        if (ref $resp->{rejected} eq 'ARRAY' && @{$resp->{rejected}}) {
            @texts = map { ref $_ eq 'HASH' ? $_->{error} // '' : '' }
                     @{$resp->{rejected}};
        } else {
            @texts = ($resp->{message} // '');
        }
        for my $m (@$mentions) {
            my @miss = grep { index($_, $m) < 0 } @texts;
            ok(!@miss, "$name - the error text mentions \"$m\"");
            diag("error text: \"$_\"") for @miss;
        }
    }
});

my $spec = build_spec();
my @broken = grep { $_->{error} } @CASES;
if (!$spec) {
    Test::More::plan(tests => 1);
    fail("conformance cases found in $DIR");
    exit 1;
}
for my $c (@broken) {
    fail("conformance case $c->{id} is readable");
    diag($c->{error});
}

spec_string($spec);
repeat_each(1);
no_shuffle();
run_tests();
