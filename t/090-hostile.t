# Hostile input: every one a 4xx or a clean delivery, nginx stays up, and
# nothing of it reaches an upstream header or a log line unescaped.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: numbers beyond 64 bits are 400 Invalid JSON
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = json(android_track('Big', properties => {n => 1}));
$m =~ s/"n":1/"n":123456789012345678901234567890/;
"POST /v1/track\n" . $m
--- error_code: 400
--- response_body_like: "message":"Invalid JSON: 
--- kochava: []



=== TEST 2: CR/LF in an event name and an id go out JSON-escaped, never as a header
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
my $m = android_track("Evil\r\nX-Injected: 1");
$m->{context}{device}{id} = "dev\r\nX-Injected: 2";
"POST /v1/track\n" . json($m)
--- error_code: 200
--- kochava eval
json([{%{kochava_event("Evil\r\nX-Injected: 1")},
       kochava_device_id => "dev\r\nX-Injected: 2",
       data => {%{kochava_event("Evil\r\nX-Injected: 1")->{data}},
                device_ids => {adid => '38400000-8cf0-11bd-b23e-10b96e40000d',
                               android_id => "dev\r\nX-Injected: 2"}}}])
--- upstream_requests_like: "content_type":"application/json"
--- log_level: info
--- no_error_log eval
qr/^X-Injected/



=== TEST 3: CR/LF quoted by the parser's error is escaped in the log line
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n{\"event\":\"ab\\u00\nX-Injected: 3\"}"
--- error_code: 400
--- log_level: info
--- error_log
kochava: body refused: Invalid JSON: invalid escape near '"ab\u00\x0a'
--- no_error_log eval
qr/^'/



=== TEST 4: a client header full of CR-less junk does not reach upstream
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval
"Authorization: " . basic_auth(KEY) . "\nX-Forwarded-For: 1.2.3.4\nCookie: a=b\nX-Injected: 4"
--- request eval
"POST /v1/track\n" . json(android_track('Headers'))
--- error_code: 200
--- kochava eval: json([kochava_event('Headers')])
--- upstream_requests_like eval
[qr/"authorization":""/, qr/"content_type":"application\/json"/]



=== TEST 5: nginx is still up and serving after all of the above
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval: ingest_config()
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Still Here'))
--- error_code: 200
--- kochava eval: json([kochava_event('Still Here')])
