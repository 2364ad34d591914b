# Validation: each rule of ingest.md, its JSON path in the error, and
# nothing forwarded for a rejected message.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a batch item that is not an object
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => ["nope", android_track('Ok')]})
--- error_code: 200
--- response_body_like: "accepted":1,"rejected":\[\{"index":0,"error":"[^"]*object
--- kochava eval: json([kochava_event('Ok')])



=== TEST 2: a batch item with an unknown type
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [android_track('x', type => 'purchase')]})
--- error_code: 200
--- response_body_like: "rejected":\[\{"index":0,"messageId":"m-x","error":"type
--- kochava: []



=== TEST 3: no userId and no anonymousId (null and "" are missing)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Nobody', anonymousId => undef, userId => ''))
--- error_code: 400
--- response_body_like: ^\{"success":false,"message":"[^"]*userId[^"]*anonymousId
--- response_headers
X-Kochava: m=1 a=0 r=1 s=0 o=0
--- kochava: []



=== TEST 4: track without event, group without groupId, alias without previousId
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('', )),
 "POST /v1/group\n" . json(android_track('x')),
 "POST /v1/alias\n" . json(android_track('x', userId => 'u'))]
--- error_code eval: [400, 400, 400]
--- response_body_like eval
[qr/"message":"event/, qr/"message":"groupId/, qr/"message":"previousId/]
--- kochava: []
--- kochava_identity: []



=== TEST 5: a timestamp that is not ISO-8601
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('T', timestamp => 'yesterday')),
 "POST /v1/track\n" . json(android_track('T', sentAt => '2024-13-01T00:00:00Z'))]
--- error_code eval: [400, 400]
--- response_body_like eval
[qr/"message":"timestamp/, qr/"message":"sentAt/]
--- kochava: []



=== TEST 6: ISO-8601 with offsets and fractions is accepted
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Offset', timestamp => '2024-03-21T00:56:56.000+05:30')),
 "POST /v1/track\n" . json(android_track('Micro', timestamp => '2024-03-20T19:26:56.123456+00:00'))]
--- error_code eval: [200, 200]
--- kochava eval: json([kochava_event('Offset'), kochava_event('Micro')])



=== TEST 7: Kochava's device rules: platform, device id, advertising id
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $web = android_track('Web');
$web->{context}{device}{type} = 'web';
$web->{context}{os}{name} = 'macOS';
my $noid = android_track('No Id');
delete $noid->{context}{device}{id};
my $noad = android_track('No Ad');
delete $noad->{context}{device}{advertisingId};
["POST /v1/track\n" . json($web), "POST /v1/track\n" . json($noid),
 "POST /v1/track\n" . json($noad)]
--- error_code eval: [400, 400, 400]
--- response_body_like eval
[qr/"message":"context\.device\.type/, qr/"message":"context\.device\.id/,
 qr/"message":"context\.device\.advertisingId/]
--- kochava: []



=== TEST 8: device rules do not apply to a message Kochava is not to get
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = android_track('Elsewhere', integrations => {Kochava => JSON::PP::false});
delete $m->{context}{device};
"POST /v1/track\n" . json($m)
--- error_code: 200
--- response_headers
X-Kochava: m=1 a=1 r=0 s=1 o=0
--- kochava: []



=== TEST 9: a messageId over 100 characters
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Long Id', messageId => 'm' x 101))
--- error_code: 400
--- response_body_like: "message":"messageId
--- kochava: []



=== TEST 10: $kochava_error carries the first rejection
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('add_header X-Error $kochava_error always;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $noid = android_track('No Id');
delete $noid->{context}{device}{id};
"POST /v1/track\n" . json($noid)
--- error_code: 400
--- response_headers_like
X-Error: context\.device\.id is required
--- error_log
kochava: message 0 rejected (device)



=== TEST 11: every Apple platform (ipados, tvos, watchos, visionos) sends IDFA and IDFV; an unknown device.type falls back to context.os.name
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my @batch;
for my $t (['ipados', 'iPadOS'], ['tvos', 'tvOS'], ['watchos', 'watchOS'],
           ['visionOS', 'visionOS'], ['mac', 'tvOS'], ['', 'watchOS'])
{
    my $m = android_track("Apple $t->[0]");
    $m->{context}{device}{type} = $t->[0];
    $m->{context}{os} = { name => $t->[1], version => '2.0' };
    push @batch, $m;
}
"POST /v1/batch\n" . json({batch => \@batch})
--- error_code: 200
--- response_body chomp
{"success":true}
--- kochava eval
my @want;
for my $t ('ipados', 'tvos', 'watchos', 'visionOS', 'mac', '') {
    my $os = { ipados => 'iPadOS', tvos => 'tvOS', watchos => 'watchOS',
               visionOS => 'visionOS', mac => 'tvOS', '' => 'watchOS' }->{$t};
    my $k = kochava_event("Apple $t", device_ver => "Pixel 8-$os-2.0",
                          app_tracking_transparency => {att => JSON::PP::true});
    $k->{data}{device_ids} = {idfa => '38400000-8cf0-11bd-b23e-10b96e40000d',
                              idfv => 'a1b2c3d4e5f60718'};
    push @want, $k;
}
json(\@want)
