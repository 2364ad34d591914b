# Braze fan-out of Segment "Install Attributed" tracks: organic filtering,
# user keys, 75 per request, Braze's answers, the API key kept secret.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a batch mixing organic and attributed installs: one Braze request with the attributed ones, counts logged
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_braze_pass /_braze/track;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [
    install_attributed('u1', source => 'Facebook', name => 'Spring', ad_group => 'Red', ad_creative => 'Hello'),
    install_attributed('u2', source => 'Organic'),
    install_attributed('u3', source => 'AdWords'),
    install_attributed('u4'),
    install_attributed('u5', source => 'UNATTRIBUTED'),
    android_track('Not An Install'),
]})
--- error_code: 200
--- response_headers
X-Kochava: m=6 a=6 r=0 s=3 o=2
--- braze eval
json([braze_body(
    [external_id => 'u1', source => 'Facebook', campaign => 'Spring', adgroup => 'Red', ad => 'Hello'],
    [external_id => 'u3', source => 'AdWords'])])
--- kochava eval: json([kochava_event('Not An Install')])
--- log_level: info
--- error_log
kochava: installs for Braze: 2 attributed, 3 organic (not sent)



=== TEST 2: user keys: braze_id, then userId, then anonymousId as an alias
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_braze_pass /_braze/track;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $by_id = install_attributed('u1', source => 'S');
$by_id->{properties}{braze_id} = 'b-1';
my $by_trait = install_attributed('u2', source => 'S');
$by_trait->{context} = {traits => {braze_id => 'b-2'}};
my $anon = install_attributed('x', source => 'S');
delete $anon->{userId};
$anon->{anonymousId} = 'anon-9';
"POST /v1/batch\n" . json({batch => [$by_id, $by_trait, install_attributed('u3', source => 'S'), $anon]})
--- error_code: 200
--- braze eval
json([braze_body(
    [braze_id => 'b-1', source => 'S'],
    [braze_id => 'b-2', source => 'S'],
    [external_id => 'u3', source => 'S'],
    [user_alias => {alias_name => 'anon-9', alias_label => 'segment_anonymous_id'}, source => 'S'])])



=== TEST 3: 160 attributed installs go out 75 + 75 + 10
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_braze_pass /_braze/track;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [map { install_attributed("u$_", source => 'Net') } 1 .. 160]})
--- error_code: 200
--- braze eval
my @i = map { [external_id => "u$_", source => 'Net'] } 1 .. 160;
json([braze_body(@i[0 .. 74]), braze_body(@i[75 .. 149]), braze_body(@i[150 .. 159])])



=== TEST 4: "Braze": false skips Braze; without kochava_braze_pass nothing is sent either
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config('kochava_braze_pass /_braze/track;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = install_attributed('u1', source => 'S');
$m->{integrations} = {Braze => JSON::PP::false};
"POST /v1/track\n" . json($m)
--- error_code: 200
--- response_headers
X-Kochava: m=1 a=1 r=0 s=1 o=0
--- braze: []
--- kochava: []



=== TEST 5: Braze 503 makes the sync answer 503
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_braze/track
--- config eval
ingest_config('kochava_braze_pass /_braze/track;') . q{
    location /_braze/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(install_attributed('u1', source => 'S'))
--- error_code: 503
--- response_headers
Retry-After: 10



=== TEST 6: a Braze 2xx with errors[] is delivered, and its errors logged
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults: /_braze/track
--- config eval
ingest_config('kochava_braze_pass /_braze/track;') . q{
    location /_braze/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_braze_partial;
    }
    location = /_braze_partial {
        echo_read_request_body;
        echo '{"message":"success","errors":[{"type":"invalid","input_array":"attributes","index":1}]}';
    }
}
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/batch\n" . json({batch => [install_attributed('u1', source => 'S'),
                                     install_attributed('u2', source => 'S')]})
--- error_code: 200
--- error_log
kochava: braze refused 1 of the 2 installs of its request, not retried



=== TEST 7: the Braze API key reaches Braze and nothing else, not even the debug log
Braze here is another server (a unix socket, its own error log at info, so
that its debug lines of incoming headers do not count): it answers 503
unless the key arrived, so a 200 proves the key was sent.
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
    server {
        listen unix:/tmp/kochava-test-braze-$TEST_NGINX_SERVER_PORT.sock;
        error_log logs/braze-mock.log info;
        location / {
            if ($http_authorization != "Bearer braze-secret-rest-key") {
                return 503;
            }
            return 200 '{"message":"success"}';
        }
    }
--- no_kochava_defaults: /_braze/track /_kochava/track
--- config eval
ingest_config('kochava_braze_pass /_braze/track;') . q{
    location /_braze/track {
        internal;
        proxy_set_header Authorization "Bearer braze-secret-rest-key";
        proxy_pass http://unix:/tmp/kochava-test-braze-$TEST_NGINX_SERVER_PORT.sock:/users/track;
    }
    location /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
}
--- log_level: debug
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(install_attributed('u1', source => 'S')),
 "POST /v1/track\n" . json(install_attributed('u2', source => 'S'))]
--- error_code eval: [200, 200]
--- response_body_unlike eval: [qr/braze-secret/, qr/braze-secret/]
--- no_error_log
braze-secret-rest-key
