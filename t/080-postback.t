# Attribution postbacks from Kochava and Tune: GET query strings, POST forms
# and JSON, URL decoding once, unexpanded macros, organic installs, keys.

use lib '.';
use t::TestKochava;
use t::Messages;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a Tune postback URL as docs/braze.md writes it, macros expanded
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /postback/tune?advertiser_sub_publisher=Facebook&advertiser_sub_campaign=Spring%20Sale&advertiser_sub_adgroup=Red+Ones&advertiser_sub_ad=Hello%21&user_id=c0ffee-42
--- error_code: 200
--- response_body chomp
{"success":true}
--- braze eval
json([braze_body([user_alias => {alias_name => 'c0ffee-42', alias_label => 'braze_install_tracking_id'},
                  provider => 'Tune', source => 'Facebook', campaign => 'Spring Sale',
                  adgroup => 'Red Ones', ad => 'Hello!', time => {'$near_now' => 0}])])
--- log_level: info
--- error_log
kochava: tune postback: attributed install, 1 request to Braze



=== TEST 2: a Kochava postback URL, braze_id first
--- config
    location = /postback/kochava {
        kochava_postback kochava;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /postback/kochava?network=AdWords&campaign=C1&adgroup=site-7&creative=ad-3&braze_id=b-77&external_id=u-1&device_id=dev-1
--- error_code: 200
--- braze eval
json([braze_body([braze_id => 'b-77', provider => 'Kochava', source => 'AdWords', campaign => 'C1',
                  adgroup => 'site-7', ad => 'ad-3', time => {'$near_now' => 0}])])



=== TEST 3: Kochava: external_id before device_id; device_id as an alias
--- config
    location = /postback/kochava {
        kochava_postback kochava;
        kochava_braze_pass /_braze/track;
    }
--- request eval
["GET /postback/kochava?network=N&external_id=u-1&device_id=dev-1",
 "GET /postback/kochava?network=N&device_id=dev-2"]
--- error_code eval: [200, 200]
--- braze eval
json([braze_body([external_id => 'u-1', provider => 'Kochava', source => 'N', time => {'$near_now' => 0}]),
      braze_body([user_alias => {alias_name => 'dev-2', alias_label => 'kochava_device_id'},
                  provider => 'Kochava', source => 'N', time => {'$near_now' => 0}])])



=== TEST 4: an organic postback is answered 200 and not sent
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- request eval
["GET /postback/tune?advertiser_sub_publisher=organic&user_id=u",
 "GET /postback/tune?advertiser_sub_publisher=&user_id=u",
 "GET /postback/tune?user_id=u",
 "GET /postback/tune?advertiser_sub_publisher=Unattributed"]
--- error_code eval: [200, 200, 200, 200]
--- response_body eval: [qq{{"success":true}}, qq{{"success":true}}, qq{{"success":true}}, qq{{"success":true}}]
--- braze: []
--- log_level: info
--- error_log
kochava: tune postback: organic install, not sent



=== TEST 5: an attributed postback with no usable key is 400; an unexpanded macro is no key
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /postback/tune?advertiser_sub_publisher=Facebook&user_id={user_id}&external_id=%7Bexternal_id%7D
--- error_code: 400
--- response_body_like: ^\{"success":false,"message":"[^"]+"\}$
--- braze: []



=== TEST 6: an unexpanded attribution macro is left out, not sent as text
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /postback/tune?advertiser_sub_publisher=Facebook&advertiser_sub_campaign={advertiser_sub_campaign}&advertiser_sub_ad=%7Badvertiser_sub_ad%7D&user_id=t-1
--- error_code: 200
--- braze eval
json([braze_body([user_alias => {alias_name => 't-1', alias_label => 'braze_install_tracking_id'},
                  provider => 'Tune', source => 'Facebook', time => {'$near_now' => 0}])])



=== TEST 7: values are decoded once: %2520 stays %20
--- config
    location = /postback/kochava {
        kochava_postback kochava;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /postback/kochava?network=Net%2520Work&external_id=u%2B1
--- error_code: 200
--- braze eval
json([braze_body([external_id => 'u+1', provider => 'Kochava', source => 'Net%20Work',
                  time => {'$near_now' => 0}])])



=== TEST 8: POST with a form body
--- config
    location = /postback/kochava {
        kochava_postback kochava;
        kochava_braze_pass /_braze/track;
    }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /postback/kochava
network=Snap&campaign=Summer+Sale&external_id=u-9
--- error_code: 200
--- braze eval
json([braze_body([external_id => 'u-9', provider => 'Kochava', source => 'Snap', campaign => 'Summer Sale',
                  time => {'$near_now' => 0}])])



=== TEST 9: POST with a JSON object
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- more_headers
Content-Type: application/json
--- request
POST /postback/tune
{"advertiser_sub_publisher":"TikTok","advertiser_sub_adgroup":"G","braze_id":"b-1"}
--- error_code: 200
--- braze eval
json([braze_body([braze_id => 'b-1', provider => 'Tune', source => 'TikTok', adgroup => 'G',
                  time => {'$near_now' => 0}])])



=== TEST 10: POST JSON that is not an object is 400
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- more_headers
Content-Type: application/json
--- request
POST /postback/tune
["advertiser_sub_publisher"]
--- error_code: 400
--- response_body_like: "success":false
--- braze: []



=== TEST 11: other methods are 405 with Allow: GET, POST
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
--- request
PUT /postback/tune
x=1
--- error_code: 405
--- response_headers
Allow: GET, POST
--- braze: []



=== TEST 12: Braze down: the partner gets a 503 and retries
--- no_kochava_defaults
--- config
    location = /postback/tune {
        kochava_postback tune;
        kochava_braze_pass /_braze/track;
    }
    location /_braze/track {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/fail/503;
    }
--- request
GET /postback/tune?advertiser_sub_publisher=Facebook&user_id=t-1
--- error_code: 503
--- response_headers
Retry-After: 10
