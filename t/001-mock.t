# Self-tests of t::TestKochava's recording mock upstream and its checks,
# with the echo module's subrequests standing in for the Kochava module.

use lib '.';
use t::TestKochava;

repeat_each(2);
no_shuffle();
sub body_location { "location = /t { echo_subrequest POST /_kochava/track -b '$_[0]'; }" }
sub kochava_json { '[{"from":"main"}]' }

run_tests();

__DATA__

=== TEST 1: bodies POSTed through the default pass locations are recorded
--- config
    location = /t {
        echo_subrequest POST /_kochava/track -b '{"b":[1,2],"a":"x"}';
        echo_subrequest POST /_kochava/track -b '{"n":1.5,"t":true}';
        echo_subrequest POST /_kochava/identity -b '{"id":"u1"}';
        echo_subrequest POST /_braze/track -b '{"attributes":[]}';
    }
--- request
GET /t
--- response_body chomp
{"success":"1"}{"success":"1"}{"success":"1"}{"message":"success"}
--- kochava
[{"t": true, "n": 1.5}, {"a": "x", "b": [1, 2]}]
--- kochava_identity
[{"id": "u1"}]
--- braze eval: '[{"attributes":[]}]'
--- upstream_requests_like eval
[qr/"method":"POST"/, qr/"content_length":"\d+"/, qr/"authorization":""/]



=== TEST 2: an empty list means nothing was sent there
--- config
    location = /t {
        echo_subrequest POST /_kochava/identity -b '{"id":"u2"}';
    }
--- request
GET /t
--- kochava: []
--- braze: []
--- kochava_identity: [{"id":"u2"}]



=== TEST 3: $near_now matches a timestamp within 5 s of now + D
--- config
    location = /t {
        echo_subrequest POST /_kochava/track -b '{"usertime":$msec}';
    }
--- request
GET /t
--- kochava: [{"usertime": {"$near_now": 0}}]



=== TEST 4: the fault mocks answer as documented and are recorded
--- no_kochava_defaults
--- config
    location = /_kochava/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
    location = /t {
        echo_subrequest POST /_kochava/track -b '{"x":1}';
    }
    location /direct/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/;
    }
--- request eval
["GET /t", "GET /direct/fail/429", "GET /direct/kochava_no", "GET /direct/notjson"]
--- error_code eval
[200, 429, 200, 200]
--- response_body eval
['{"error":"unavailable"}', '{"error":"rate limited"}', '{"success":"0"}', '<html>']
--- upstream_requests_like eval
qr{"uri":"/_mock/(fail/503|fail/429|kochava_no|notjson)"}
--- kochava: []



=== TEST 5: eval sections run in package main (helpers from the test file)
--- config eval: body_location('{"from":"main"}')
--- request
GET /t
--- kochava eval: kochava_json()
