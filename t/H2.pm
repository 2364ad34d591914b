package t::H2;

# A raw HTTP/2 (h2c, prior knowledge) client for what curl cannot do: send
# part of a request body and reset the stream (RST_STREAM, CANCEL), as a
# mobile client does when the app is suspended mid-upload.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET ();
use File::Temp ();
use Time::HiRes ();

our @EXPORT = qw(h2_reset_mid_body client_gone_after);

sub frame {
    my ($type, $flags, $stream, $payload) = @_;
    my $len = length $payload;
    return pack('CnCCN', $len >> 16, $len & 0xffff, $type, $flags,
                $stream & 0x7fffffff) . $payload;
}

# an HPACK integer with an N-bit prefix (RFC 7541, 5.1)
sub hpack_int {
    my ($n, $bits, $first) = @_;
    my $max = (1 << $bits) - 1;
    return chr($first | $n) if $n < $max;
    my $out = chr($first | $max);
    $n -= $max;
    while ($n >= 128) {
        $out .= chr(($n % 128) + 128);
        $n = int($n / 128);
    }
    return $out . chr($n);
}

# a header as a literal without indexing, new name, no Huffman coding
sub hpack_literal {
    my ($name, $value) = @_;
    return "\x00" . hpack_int(length $name, 7, 0) . $name
                  . hpack_int(length $value, 7, 0) . $value;
}

# sends the headers and the first $send bytes of $body on stream 1, then
# RST_STREAM(CANCEL); keeps the connection open $linger seconds and closes
sub h2_reset_mid_body {
    my (%o) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$o{port}",
                                     Timeout => 5)
        or die "h2_reset_mid_body: cannot connect to $o{port}: $!";
    my @headers = (
        [':method', 'POST'], [':scheme', 'http'], [':path', $o{path}],
        [':authority', 'localhost'],
        ['content-type', 'application/json'],
        ['content-length', length $o{body}],
        @{$o{headers} || []},
    );
    my $block = join '', map { hpack_literal(@$_) } @headers;

    my $out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . frame(4, 0, 0, '')
              . frame(1, 0x4, 1, $block);
    my $part = substr($o{body}, 0, $o{send});
    while (length $part) {
        $out .= frame(0, 0, 1, substr($part, 0, 16384, ''));
    }
    $sock->syswrite($out);
    Time::HiRes::sleep(0.1);
    $sock->syswrite(frame(3, 0, 1, pack('N', 0x8)));
    Time::HiRes::sleep($o{linger} // 0.3);
    close $sock;
}

# A client that sends a whole request with curl, HTTP/2 (h2c, prior
# knowledge) or HTTP/1.1, and goes away (closes its connection) after
# "after" seconds, before the answer; then waits "wait" seconds more.
sub client_gone_after {
    my (%a) = @_;

    my $tmp = File::Temp->new;
    binmode $tmp;
    print $tmp $a{body};
    close $tmp;

    my @cmd = ('curl', '-s', '-o', '/dev/null', '-m', $a{after},
               ($a{http2} ? '--http2-prior-knowledge' : '--http1.1'),
               (map { ('-H', "$_->[0]: $_->[1]") } @{$a{headers} // []}),
               '-H', 'Content-Type: application/json',
               '--data-binary', '@' . $tmp->filename,
               "http://127.0.0.1:$a{port}$a{path}");

    system(@cmd);
    Time::HiRes::sleep($a{wait}) if $a{wait};
}

1;
