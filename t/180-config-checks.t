# What nginx -t refuses beyond each directive (docs/directives.md, "What
# nginx -t refuses"): where a pass URI leads among its server's locations,
# one role per location, an empty App GUID, a zero async backlog, a spool
# the workers' user cannot use; and the configurations next to each that
# are accepted as before.

use lib '.';
use t::TestKochava;
use t::Messages;
use File::Temp ();

# "--- worker_user nobody nogroup": the block's workers run as that user
# (the runner writes "user root;" for a root run otherwise)
t::TestKochava::add_known_sections('worker_user');
add_block_preprocessor(sub {
    my ($block) = @_;
    $Test::Nginx::Util::WorkerUser = $block->worker_user;
});

# a directory only root can enter (0700), with a spool below it
our $Locked = File::Temp::tempdir('kochava-t180-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
chmod 0700, $Locked or die "chmod $Locked: $!";
$ENV{TEST_NGINX_KOCHAVA_LOCKED} = $Locked;

# one every user can enter (0755), whatever folder the checkout is in
# (CI's clone may sit below one only root can enter)
our $Open = File::Temp::tempdir('kochava-t180-XXXXXX', TMPDIR => 1,
                                CLEANUP => 1);
chmod 0755, $Open or die "chmod $Open: $!";
$ENV{TEST_NGINX_KOCHAVA_OPEN} = $Open;

# no "location /" of the runner's: a typo then matches nothing (TEST 2
# has one of its own)
no_root_location();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a typo in kochava_pass: no location matches it
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/trak;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /_kochava/trak" of location "/v1/" matches no location of its server: correct the URI, or add an internal location that proxies to Kochava ("location /_kochava/trak { internal; proxy_pass ...; }")
--- no_error_log
[alert]



=== TEST 2: the same typo in a server with a static "location /": that is where it leads
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/trak;
    }
    location / {
        root html;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /_kochava/trak" of location "/v1/" leads to location "/", which has no content handler: nginx would answer it itself (a file, a 404, a "return"), not Kochava; give that location "proxy_pass" to Kochava, or correct the URI
--- no_error_log
[alert]



=== TEST 3: the same URI spelt right: accepted and delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
    }
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Spelt'))
--- error_code: 200
--- kochava eval: json([kochava_event('Spelt')])



=== TEST 4: kochava_identity_pass and a pass inherited from the server: the directive's own line is named
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    kochava_identity_pass /_kochava/identiy;
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
    }
--- request
GET /v1/track
--- must_die
--- error_log eval
qr{"kochava_identity_pass /_kochava/identiy" of location "/v1/" matches no location of its server: .* in \S+nginx\.conf:\d+}
--- no_error_log
[alert]



=== TEST 5: the pass URI is the ingest location itself
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /v1/track;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /v1/track" of location "/v1/" leads to the "kochava_ingest" location "/v1/" itself: a pass URI must lead to an internal location that proxies to Kochava
--- no_error_log
[alert]



=== TEST 6: the pass URI is another of the module's locations (kochava_status)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
        kochava_braze_pass /metrics;
    }
    location = /metrics {
        kochava_status;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_braze_pass /metrics" of location "/v1/" leads to the "kochava_status" location = "/metrics": a pass URI must lead to an internal location that proxies to Braze
--- no_error_log
[alert]



=== TEST 7: a static location (no content handler): nginx would answer it itself
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /static/x;
    }
    location /static/ {
        internal;
        root html;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /static/x" of location "/v1/" leads to location "/static/", which has no content handler: nginx would answer it itself (a file, a 404, a "return"), not Kochava; give that location "proxy_pass" to Kochava, or correct the URI
--- no_error_log
[alert]



=== TEST 8: a regex location takes the URI before the prefix one, as it will for the subrequest
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track.json;
    }
    location /_kochava/ {
        internal;
        rewrite ^ /_mock/kochava break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    location ~ \.json$ {
        return 404;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /_kochava/track.json" of location "/v1/" leads to location ~ "\.json$", which has no content handler
--- no_error_log
[alert]



=== TEST 9: "^~" keeps the regex out: accepted, delivered through the prefix location
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track.json;
    }
    location ^~ /_kochava/ {
        internal;
        rewrite ^ /_mock/kochava break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    location ~ \.json$ {
        return 404;
    }
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Prefix'))
--- error_code: 200
--- kochava eval: json([kochava_event('Prefix')])



=== TEST 10: pass locations found as a regex, as a nested location and through an "if": accepted, delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_k/track;
        kochava_identity_pass /_i/nested/identity;
    }
    location ~ ^/_k/ {
        internal;
        rewrite ^ /_mock/kochava break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    location /_i/ {
        internal;
        location /_i/nested/ {
            if ($request_method) {
                rewrite ^ /_mock/identity break;
                proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
            }
        }
    }
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Regex')),
 "POST /v1/alias\n" . json(android_track('x', userId => 'u', previousId => 'p'))]
--- error_code eval: [200, 200]
--- kochava eval: json([kochava_event('Regex')])
--- upstream_requests_like: "uri":"/_mock/(?:kochava|identity)"



=== TEST 11: a URI nginx answers with a redirect to the location with a "/"
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava;
    }
    location /_kochava/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_pass /_kochava" of location "/v1/" is answered by nginx with a redirect to location "/_kochava/": write the URI as the location is named
--- no_error_log
[alert]



=== TEST 12: a postback's kochava_braze_pass is checked too
--- config
    location /pb {
        kochava_postback kochava;
        kochava_braze_pass /_braze/trak;
    }
--- request
GET /pb
--- must_die
--- error_log
"kochava_braze_pass /_braze/trak" of location "/pb" matches no location of its server
--- no_error_log
[alert]



=== TEST 13: a variable in a pass URI (it would be sent as written)
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/$host;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"/_kochava/$host" has a variable, which "kochava_pass" would send as it is written: give it a fixed URI
--- no_error_log
[alert]



=== TEST 14: a pass location that is not internal: a warning, and it works as before
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- no_kochava_defaults
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_open/track;
    }
    location /_open/track {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_mock/kochava;
    }
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Open'))
--- error_code: 200
--- kochava eval: json([kochava_event('Open')])
--- error_log
[warn]
"kochava_pass /_open/track" leads to location "/_open/track", which is not "internal": any client can send through it to Kochava as through an open proxy; add "internal;" to it



=== TEST 15: kochava_status and kochava_ingest in one location (status first): refused
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_status;
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_status" and "kochava_ingest" in one location: a location has one role, give each its own location
--- no_error_log
[alert]



=== TEST 16: kochava_ingest and kochava_postback in one location: refused
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_postback tune;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
        kochava_braze_pass /_braze/track;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_ingest" and "kochava_postback" in one location
--- no_error_log
[alert]



=== TEST 17: ingest and status side by side: accepted, a POST is the ingest's
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
    }
    location = /v1/metrics {
        kochava_status;
    }
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
["POST /v1/track\n" . json(android_track('Beside')), "GET /v1/metrics"]
--- error_code eval: [200, 200]
--- response_body_like eval: ['"success":true', 'kochava_requests_total']
--- kochava eval: json([kochava_event('Beside')])



=== TEST 18: kochava_app_id "" (every request would be refused): refused
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id "";
        kochava_pass /_kochava/track;
    }
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_app_id" is empty: every request would be refused with 401; give the App GUID, or a variable that maps write keys to App GUIDs
--- no_error_log
[alert]



=== TEST 19: a literal App GUID is accepted, and a variable that is empty for an unknown key refuses at run time
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config
    location /v1/ {
        kochava_ingest;
        kochava_app_id koexample-app-guid;
        kochava_pass /_kochava/track;
    }
    location /v2/ {
        kochava_ingest;
        kochava_app_id $kochava_app;
        kochava_pass /_kochava/track;
    }
--- more_headers eval: "Authorization: " . basic_auth('wk_other')
--- request eval
["POST /v1/track\n" . json(android_track('Literal')),
 "POST /v2/track\n" . json(android_track('Unknown'))]
--- error_code eval: [200, 401]
--- kochava eval: json([kochava_event('Literal')])



=== TEST 20: kochava_async_backlog 0 (nothing would be sent): refused
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_async_backlog 0;')
--- request
GET /v1/track
--- must_die
--- error_log
"kochava_async_backlog" directive must be greater than zero: with 0, no async message is sent, each goes straight to the spool for kochava-replay
--- no_error_log
[alert]



=== TEST 21: a backlog above zero: accepted, the async message delivered
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool spool; kochava_async_backlog 16k;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Backlog'))
--- error_code: 200
--- kochava eval: json([kochava_event('Backlog')])



=== TEST 22: a spool below a directory the workers' user cannot enter: refused, naming the path and the user
--- skip_eval: 2: $> != 0
--- worker_user: nobody nogroup
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool $TEST_NGINX_KOCHAVA_LOCKED/spool;')
--- request
GET /v1/track
--- must_die
--- error_log eval
qr{kochava_spool "[^"]+/kochava-t180-\w+/spool" in \S+nginx\.conf:\d+ cannot be used by the workers' user "nobody": it must be a directory "nobody" can list, write and enter, below directories it can enter; change their permissions, move the spool, or run the workers as another "user" \(13: Permission denied\)}
--- no_error_log
[alert]



=== TEST 23: the same workers' user with a spool it can reach: accepted, the async message delivered
--- skip_eval: 3: $> != 0
--- worker_user: nobody nogroup
--- http_config
    map $kochava_write_key $kochava_app { default ""; wk_test_1 koexample-app-guid; }
--- config eval
ingest_config('kochava_delivery async; kochava_spool $TEST_NGINX_KOCHAVA_OPEN/spool;')
--- more_headers eval: "Authorization: " . basic_auth(KEY)
--- request eval
"POST /v1/track\n" . json(android_track('Reached'))
--- error_code: 200
--- kochava eval: json([kochava_event('Reached')])
