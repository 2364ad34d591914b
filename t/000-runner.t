# Self-tests of the test runner (t/compat's Test::Nginx::Socket, or the real
# one) with stock nginx features only: return, add_header and the echo module.
# TEST_NGINX_LOAD_MODULES must load ngx_http_echo_module.so.

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: status, exact body, headers present and absent
--- config
    location = /t {
        add_header X-Foo bar;
        return 201 "created";
    }
--- request
GET /t
--- error_code: 201
--- response_body chomp
created
--- response_headers
X-Foo: bar
!X-Missing
--- response_headers_like
Content-Type: text/pla.*
--- no_error_log
[error]



=== TEST 2: request body sent with a computed Content-Length; more_headers
--- config
    location = /echo {
        echo_read_request_body;
        echo "len=$http_content_length type=$http_x_type body=$request_body";
    }
--- more_headers
X-Type: demo
--- request
POST /echo
hello world
--- response_body
len=11 type=demo body=hello world



=== TEST 3: request eval returning several requests, arrays of expectations
--- config
    location /code/ {
        return 200 "uri=$uri\n";
    }
    location = /missing {
        return 404;
    }
--- request eval
["GET /code/a", "GET /code/b", "GET /missing"]
--- error_code eval
[200, 200, 404]
--- response_body_like eval
[qr/^uri=\/code\/a$/, qr/^uri=\/code\/b$/, qr/404 Not Found/]



=== TEST 4: a chunked response (echo streams without Content-Length)
--- config
    location = /chunks {
        echo -n "one,";
        echo_flush;
        echo -n "two,";
        echo_flush;
        echo "three";
    }
--- request
GET /chunks
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
one,two,three



=== TEST 5: error_log: substring, regex; no_error_log; grep_error_log
--- config
    location = /err {
        return 200 "ok\n";
        error_page 418 /x;
    }
    location = /nofile {
        root html;
    }
--- request
GET /nofile
--- error_code: 404
--- error_log eval
["No such file or directory", qr/open\(\) "[^"]*\/nofile" failed/]
--- no_error_log
[alert]
--- grep_error_log eval: qr/open\(\) "[^"]+" failed/
--- grep_error_log_out eval
qr{^open\(\) ".*/html/nofile" failed\n$}



=== TEST 6: $TEST_NGINX_* is expanded in the config; a proxied subrequest
--- config
    location = /front {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "back on $server_port\n";
    }
--- request
GET /front
--- response_body eval
"back on $ENV{TEST_NGINX_SERVER_PORT}\n"



=== TEST 7: raw_request is sent byte for byte (here HTTP/1.0, no Host)
--- config
    location = /raw {
        return 200 "proto=$server_protocol host=[$http_host]\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body
proto=HTTP/1.0 host=[]



=== TEST 8: pipelined requests on one connection
--- config
    location /p {
        return 200 "$uri\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["/p1\n", "/p2\n"]



=== TEST 9: user_files are served from html/
--- user_files
>>> hello.txt
hi there
--- request
GET /hello.txt
--- response_body
hi there



=== TEST 10: timeout section: a slow location answered within it
--- config
    location = /slow {
        echo_sleep 0.5;
        echo done;
    }
--- request
GET /slow
--- timeout: 2
--- response_body
done



=== TEST 11: http_config and main_config go where they belong
--- main_config
    env TEST_NGINX_SELF_MARK;
--- http_config
    map $uri $mark { default "from-http-config"; }
--- config
    location = /m {
        return 200 "$mark\n";
    }
--- request
GET /m
--- response_body
from-http-config
