package t::Messages;

# Builders of Segment messages and of the Kochava bodies they must become,
# shared by the t/*.t suites (used from their "eval" sections).

use strict;
use warnings;

use JSON::PP ();
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Compress::Deflate qw(deflate $DeflateError);
use Exporter 'import';

our @EXPORT = qw(json android_track android_device kochava_event
                 install_attributed braze_body
                 gzipped deflated chunked basic_auth ingest_config
                 KEY GUID TS USERTIME);

use constant KEY      => 'wk_test_1';
use constant GUID     => 'koexample-app-guid';
use constant TS       => '2024-03-20T19:26:56Z';
use constant USERTIME => 1710962816;

my $JSON = JSON::PP->new->canonical;

sub json { $JSON->encode($_[0]) }

sub android_device {
    return {
        id                => 'a1b2c3d4e5f60718',
        advertisingId     => '38400000-8cf0-11bd-b23e-10b96e40000d',
        adTrackingEnabled => JSON::PP::true,
        type              => 'android',
        model             => 'Pixel 8',
    };
}

# a track from an Android device, with extra top-level keys
sub android_track {
    my ($event, %extra) = @_;

    my $msg = {
        type        => 'track',
        messageId   => 'm-' . lc($event =~ s/\W+/-/gr),
        timestamp   => TS,
        anonymousId => 'anon-1',
        event       => $event,
        context     => {
            device => android_device(),
            os     => { name => 'Android', version => '14' },
        },
    };

    $msg->{$_} = $extra{$_} for keys %extra;

    return $msg;
}

# the Kochava body of android_track($event), with data keys overridden
sub kochava_event {
    my ($name, %data) = @_;

    my $body = {
        action            => 'event',
        kochava_app_id    => GUID,
        kochava_device_id => 'a1b2c3d4e5f60718',
        data              => {
            device_ids => {
                adid       => '38400000-8cf0-11bd-b23e-10b96e40000d',
                android_id => 'a1b2c3d4e5f60718',
            },
            origination_ip => '127.0.0.1',
            device_ua      => '',
            device_ver     => 'Pixel 8-Android-14',
            usertime       => USERTIME,
            event_name     => $name,
            event_data     => {},
        },
    };

    $body->{data}{$_} = $data{$_} for keys %data;

    return $body;
}

# a Segment "Install Attributed" track; campaign keys as Segment names them
sub install_attributed {
    my ($user, %campaign) = @_;

    return {
        type       => 'track',
        messageId  => "ia-$user",
        timestamp  => TS,
        userId     => $user,
        event      => 'Install Attributed',
        properties => { provider => 'Kochava', campaign => {%campaign} },
    };
}

# a Braze /users/track body; each install is [key => value, %attribution]
sub braze_body {
    my (@installs) = @_;

    my (@attributes, @events);

    for my $i (@installs) {
        my ($kind, $id, %a) = @$i;
        my %key = ($kind => $id);
        my $time = delete $a{time} // TS;
        my $provider = delete $a{provider} // 'Kochava';

        if ($kind eq 'user_alias') {
            %key = (user_alias => $id, _update_existing_only => JSON::PP::false);
        }

        my %attr = %key;
        my %props = (provider => $provider);

        for my $f (qw(source campaign adgroup ad)) {
            next unless defined $a{$f};
            $attr{"attributed_$f"} = $a{$f};
            $props{$f} = $a{$f};
        }

        push @attributes, \%attr;
        push @events, { %key, name => 'Install Attributed', time => $time,
                        properties => \%props };
    }

    return { attributes => \@attributes, events => \@events };
}

sub gzipped {
    my ($in) = @_;
    my $out;
    gzip(\$in => \$out) or die $GzipError;
    return $out;
}

sub deflated {
    my ($in) = @_;
    my $out;
    deflate(\$in => \$out) or die $DeflateError;
    return $out;
}

# a whole HTTP/1.1 request with a chunked body, for raw_request
sub chunked {
    my ($uri, $headers, $body, $size) = @_;

    $size ||= 100;

    my $req = "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\nTransfer-Encoding: chunked\r\n"
              . $headers . "\r\n";

    while (length $body) {
        my $chunk = substr($body, 0, $size, '');
        $req .= sprintf("%x\r\n", length $chunk) . $chunk . "\r\n";
    }

    return $req . "0\r\n\r\n";
}

sub basic_auth {
    my ($key) = @_;
    require MIME::Base64;
    return 'Basic ' . MIME::Base64::encode_base64("$key:", '');
}

# the usual ingest location; extra directives go inside it
sub ingest_config {
    my ($extra) = @_;

    $extra ||= '';

    return <<"EOF";
    location /v1/ {
        kochava_ingest;
        kochava_app_id \$kochava_app;
        kochava_pass /_kochava/track;
        kochava_identity_pass /_kochava/identity;
        add_header X-Kochava "m=\$kochava_messages a=\$kochava_accepted r=\$kochava_rejected s=\$kochava_skipped o=\$kochava_outbound" always;
        $extra
    }
EOF
}

1;
