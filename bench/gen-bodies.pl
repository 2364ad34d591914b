#!/usr/bin/perl
# Writes the bodies the benchmarks send, once, into the directory given:
#   track.json        one ~1 KB iOS track (analytics-ios shape), /v1/track
#   batch-N.json      {"batch":[...]} of N such tracks (distinct messageIds)
#   batch-20-skip.json  the same 20 with "integrations":{"All":false}: parsed
#                     and validated, nothing sent (bench/run spool)
# for N in 20, 100, 2500.

use strict;
use warnings;
use JSON::PP ();

my $dir = shift or die "usage: $0 dir\n";
my $json = JSON::PP->new->canonical;

sub track {
    my ($i) = @_;
    my $id = sprintf '%08d', $i;
    return {
        type        => 'track',
        event       => 'Order Completed',
        messageId   => "B1E6F6C4-7E1A-4C31-9D7A-2F5E$id",
        timestamp   => '2024-03-20T19:26:56.123Z',
        userId      => '019mr8mf4r',
        anonymousId => '7A5C2B6E-3D4F-4A8B-9C1D-0E2F3A4B5C6D',
        properties  => {
            order_id => "50314b8e9bcf000000000000$id",
            revenue  => 25.00,
            total    => 27.50,
            tax      => 2.00,
            shipping => 3.00,
            currency => 'USD',
            coupon   => 'hasbros',
            products => [
                { product_id => '507f1f77bcf86cd799439011', sku => '45790-32',
                  name => 'Monopoly: 3rd Edition', price => 19, quantity => 1,
                  category => 'Games' },
            ],
        },
        context => {
            app => { name => 'Shop', version => '2.1.0', build => '2104',
                     namespace => 'com.example.shop' },
            device => {
                id                => '176779B9-8C07-4E53-B3EA-ABBFAA40C829',
                advertisingId     => '017D76B5-85F8-4E3C-8CCE-8B29CCEACB1D',
                adTrackingEnabled => JSON::PP::true,
                manufacturer      => 'Apple',
                type              => 'ios',
                model             => 'iPhone12,1',
                name              => 'iPhone',
            },
            library  => { name => 'analytics-ios', version => '4.1.8' },
            locale   => 'en-US',
            network  => { wifi => JSON::PP::true, cellular => JSON::PP::false,
                          carrier => 'T-Mobile' },
            os       => { name => 'iOS', version => '17.4' },
            screen   => { width => 414, height => 896 },
            timezone => 'America/Los_Angeles',
            traits   => { email => 'peter@example.com' },
            ip       => '198.51.100.7',
            userAgent => 'Shop/2.1.0 (iPhone; iOS 17.4; Scale/2.00)',
        },
        integrations => {},
        sentAt       => '2024-03-20T19:26:57.001Z',
    };
}

sub write_file {
    my ($name, $data) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!\n";
    print $fh $data;
    close $fh or die "$dir/$name: $!\n";
}

write_file('track.json', $json->encode(track(0)));

for my $n (20, 100, 2500) {
    write_file("batch-$n.json",
               $json->encode({ batch => [ map { track($_) } 1 .. $n ],
                               sentAt => '2024-03-20T19:26:57.001Z' }));
}

write_file('batch-20-skip.json',
           $json->encode({ batch => [ map { my $t = track($_);
                                            $t->{integrations} =
                                                { All => JSON::PP::false };
                                            $t } 1 .. 20 ],
                           sentAt => '2024-03-20T19:26:57.001Z' }));
