# ngx_kochava_module: build, run and test against the distribution's nginx.
#
#   make          build build/ngx_http_kochava_module.so (installs what is
#                 missing with apt-get first)
#   make run      start nginx with the module on 127.0.0.1:8080
#   make stop     stop it
#   make test     unit tests, nginx-level tests and the conformance cases,
#                 tests/dedup/run (make test-dedup) and tests/store/run
#                 (make test-store: the fleet store on a memcached it starts)
#                 and tests/fleet/run (make test-fleet: 3 nginx edges, one
#                 memcached, each id delivered once)
#   make test-nginx-versions  the module built with nginx 1.24 ... 1.31 from
#                 ../shared/nginx and Debian's 1.22: conformance + t/ subset
#   make test-sdk real Segment SDKs (npm) against the "make run" edge
#   make fuzz     libFuzzer targets over the core (FUZZ_SECONDS each)
#   make test-asan, make test-valgrind
#   make clean    remove build/
#   make bench    throughput, memory, 2,500 batches (bench/run; not a test)
#   make bench-core  the core alone vs jansson (build/bench/bench_core)
#   make bench-store the fleet store's cost per call (bench/store)
#   make bench-fleet batches of 20 with and without store= (bench/run fleet)

SHELL        := /bin/bash

NGX_SRC      ?= /usr/share/nginx/src
NGINX        ?= /usr/sbin/nginx
BUILD        := $(CURDIR)/build
NGX_COPY     := $(BUILD)/nginx-src
NGX_OBJS     := $(BUILD)/objs
MODULE       := $(BUILD)/ngx_http_kochava_module.so
ECHO_MODULE  ?= /usr/lib/nginx/modules/ngx_http_echo_module.so
# the shared cases beside this tree; a local clone of it made elsewhere
# (git clone . /tmp/x) finds them beside the tree it was cloned from
CONF_HERE    := $(abspath $(CURDIR)/../shared/conformance)
CONF_ORIGIN  := $(shell git config --get remote.origin.url 2>/dev/null)
CONFORMANCE  ?= $(or $(wildcard $(CONF_HERE)), \
                     $(abspath $(wildcard $(filter /%,$(CONF_ORIGIN))/../shared/conformance)), \
                     $(CONF_HERE))

SRC_DIR      := ngx_kochava_module
CORE_SRCS    := $(wildcard $(SRC_DIR)/kochava_*.c)
GLUE_SRCS    := $(wildcard $(SRC_DIR)/ngx_http_kochava_*.c)
HEADERS      := $(wildcard $(SRC_DIR)/*.h)

UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

CC           ?= cc
CORE_CFLAGS  := -std=gnu99 -g -O2 -W -Wall -Wextra -Wpointer-arith \
                -Wno-unused-parameter -Werror -I$(SRC_DIR)
CORE_LIBS    := -ljansson -lz -lm

# Debian packages the build and the tests need (the second line: the real
# Test::Nginx's Perl requirements; then HTTP/2 and memcached peers)
DEB_PACKAGES := build-essential nginx-core nginx-dev libjansson-dev \
                libcurl4-openssl-dev zlib1g-dev libnginx-mod-http-echo curl \
                clang libclang-rt-14-dev wrk \
                libtest-base-perl libtext-diff-perl libtest-longstring-perl \
                libwww-perl libhttp-message-perl libipc-run-perl liburi-perl \
                liblist-moreutils-perl nghttp2-client memcached

# the real Test::Nginx (openresty/test-nginx): TEST_NGINX_LIB, else the copy
# in ../shared beside this tree (or beside the tree a local clone came
# from), else Perl's own path (cpanm Test::Nginx)
TN_HERE      := $(abspath $(CURDIR)/../shared/test-nginx/lib)
TN_ORIGIN    := $(abspath $(filter /%,$(CONF_ORIGIN))/../shared/test-nginx/lib)
TEST_NGINX_LIB ?= $(patsubst %/Test/Nginx/Socket.pm,%, \
                    $(firstword $(wildcard $(TN_HERE)/Test/Nginx/Socket.pm \
                                           $(TN_ORIGIN)/Test/Nginx/Socket.pm)))

TEST_ENV     := TEST_NGINX_BINARY=$(NGINX) \
                TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) $(MODULE)" \
                KOCHAVA_CONFORMANCE_DIR=$(CONFORMANCE) \
                PERL5LIB=$(TEST_NGINX_LIB)$${PERL5LIB:+:$$PERL5LIB}

RUN_PREFIX   := $(BUILD)/run
RUN_CONF     := $(CURDIR)/docs/examples/local.conf


SDK_DIR      := $(BUILD)/sdk
SDK_PACKAGES := @segment/analytics-node@3 @rudderstack/rudder-sdk-node@3


FUZZ_TARGETS := message batch postback json store
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60
FUZZ_SMOKE   ?= 5
RELOAD_SECONDS ?= 10
SAN_FLAGS    := -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/asan/%,$(UNIT_SRCS))
VALGRIND     := valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99


.PHONY: all deps module unit test check test-sdk run stop clean fuzz fuzz-smoke \
        test-asan test-valgrind test-reload test-dedup test-nginx-lib \
        test-nginx-versions test-store test-crash test-fleet
.PHONY: bench bench-core bench-store bench-fleet

all: deps module

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

module: $(MODULE)

# configure a private copy of Debian's tree with the binary's own flags
$(NGX_OBJS)/Makefile: config
	rm -rf $(NGX_COPY) $(NGX_OBJS)
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(NGX_COPY)
	cd $(NGX_COPY) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC \
	        $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(NGX_OBJS) \
	    > $(BUILD)/configure.log 2>&1 \
	    || { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(NGX_OBJS)/Makefile $(CORE_SRCS) $(GLUE_SRCS) $(HEADERS)
	$(MAKE) -s -C $(NGX_COPY) -f $(NGX_OBJS)/Makefile modules
	@# a new file, not the old one rewritten: a running nginx maps it
	cp $(NGX_OBJS)/ngx_http_kochava_module.so $@.new
	mv -f $@.new $@

unit: $(UNIT_BINS)

$(BUILD)/unit/%: tests/unit/%.c $(CORE_SRCS) $(HEADERS) tests/unit/tap.h \
                 tests/unit/test_helpers.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(CORE_CFLAGS) -Itests/unit -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

# the prove summary comes last: CI shows it
test: all unit fuzz-smoke test-nginx-lib
	tests/dedup/run
	$(TEST_ENV) prove $(UNIT_BINS) t/*.t tests/runner/false-assertions.t \
	    tests/spool/spool.t tests/e2e/outage.t tests/replay/run \
	    tests/examples/run tests/store/run tests/fleet/run tests/licence/run \
	    tests/docs/run tests/guide/run tests/abort/run tests/crash/run

# some suites alone, with the environment of make test:
#   make check T="t/110-dedup.t t/150-http2.t"
check: all test-nginx-lib
	$(TEST_ENV) prove $(T)

# async under SIGKILL of workers and of the whole nginx, two instances on
# one spool, a pid namespace: 0 lost (longer than the run of make test)
test-crash: all
	CRASH_SECONDS=$${CRASH_SECONDS:-20} CRASH_KILLS=$${CRASH_KILLS:-10} \
	    prove -v tests/crash/run

# the suites need the real Test::Nginx: say where to get it when it is not
# to be found
test-nginx-lib:
	@$(TEST_ENV) perl -MTest::Nginx::Socket -le \
	    'print "Test::Nginx: $$INC{q(Test/Nginx/Socket.pm)}"' 2>/dev/null \
	|| { echo "Test::Nginx not found: install it (cpanm Test::Nginx)" \
	          "or point TEST_NGINX_LIB at its lib/ directory" >&2; exit 1; }

# nginx itself built from each source in ../shared/nginx (or NGINX_SOURCES=
# a list of tarballs) with the module, then Debian's: the conformance cases
# and the fast subset of t/ on each; one line per version
NGINX_SOURCES ?= $(or $(wildcard $(CURDIR)/../shared/nginx/nginx-*.tar.gz), \
                     $(wildcard $(filter /%,$(CONF_ORIGIN))/../shared/nginx/nginx-*.tar.gz))

test-nginx-versions: all test-nginx-lib
	$(TEST_ENV) NGINX_SOURCES="$(NGINX_SOURCES)" tests/versions/run

# de-duplication across 2 workers, a reload and the ttl (part of make test)
test-dedup: all
	tests/dedup/run

# the fleet de-dup store against a real memcached (part of make test);
# STORE_VALGRIND=1 runs nginx under valgrind memcheck
test-store: all
	prove tests/store/run

# exactly once across a fleet: 3 nginx processes sharing one memcached
# (part of make test; KOCHAVA_FLEET_TEST_PORT, 2430 .. +4);
# FLEET_VALGRIND=1 runs each edge under valgrind memcheck
test-fleet: all
	prove -v tests/fleet/run

# libFuzzer targets over the core, with ASan and UBSan; seeds in fuzz/corpus
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(CORE_SRCS) $(HEADERS)
	@mkdir -p $(BUILD)/fuzz
	clang $(SAN_FLAGS) -fsanitize=fuzzer -I$(SRC_DIR) -o $@ $< \
	    $(CORE_SRCS) $(CORE_LIBS)

# each target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=1800); what it finds
# new is kept in build/fuzz/corpus-*, a crash in build/fuzz/crash-*
fuzz: deps $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t && \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/crash-$$t- \
	        $(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

# every target for a few seconds on the seeds: part of make test
fuzz-smoke: deps $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    rm -rf $(BUILD)/fuzz/smoke-$$t && mkdir -p $(BUILD)/fuzz/smoke-$$t && \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SMOKE) -timeout=10 \
	        -artifact_prefix=$(BUILD)/fuzz/crash-$$t- \
	        $(BUILD)/fuzz/smoke-$$t fuzz/corpus/$$t \
	        > $(BUILD)/fuzz/smoke-$$t.log 2>&1 \
	    || { tail -40 $(BUILD)/fuzz/smoke-$$t.log; exit 1; }; \
	    echo "fuzz_$$t: $$(grep -o 'Done [0-9]* runs' \
	        $(BUILD)/fuzz/smoke-$$t.log), no crash"; \
	done

# wrk traffic while nginx reloads every 0.3 s: every 200 was delivered
# (sync), or delivered or spooled (async)
test-reload: all
	tests/reload/run $(RELOAD_SECONDS) sync
	tests/reload/run $(RELOAD_SECONDS) async

# the core's unit tests under ASan + UBSan
$(BUILD)/asan/%: tests/unit/%.c $(CORE_SRCS) $(HEADERS) tests/unit/tap.h
	@mkdir -p $(BUILD)/asan
	clang $(SAN_FLAGS) -I$(SRC_DIR) -Itests/unit -o $@ $< $(CORE_SRCS) \
	    $(CORE_LIBS)

test-asan: deps $(ASAN_BINS)
	KOCHAVA_CONFORMANCE_DIR=$(CONFORMANCE) prove $(ASAN_BINS)

# unit tests and every t/ suite with nginx under valgrind memcheck; the
# runner fails a block on any error or definite leak
test-valgrind: all unit test-nginx-lib
	KOCHAVA_CONFORMANCE_DIR=$(CONFORMANCE) \
	    prove --exec '$(VALGRIND)' $(UNIT_BINS)
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 prove t/*.t
	STORE_VALGRIND=1 prove tests/store/run
	FLEET_VALGRIND=1 prove tests/fleet/run

# real SDKs from npm against the "make run" edge (needs node and npm)
test-sdk: run
	@mkdir -p $(SDK_DIR)
	@cd $(SDK_DIR) && [ -d node_modules/@rudderstack/rudder-sdk-node ] \
	    || { npm init -y >/dev/null && \
	         npm install --silent --no-audit --no-fund $(SDK_PACKAGES); }
	SDK_DIR=$(SDK_DIR) node tests/sdk/sdk-check.mjs http://127.0.0.1:8080 \
	    wk_local_example $(RUN_PREFIX)/logs/kochava-sink.jsonl

run: all stop
	@mkdir -p $(RUN_PREFIX)/logs $(RUN_PREFIX)/temp
	$(NGINX) -p $(RUN_PREFIX)/ -c $(RUN_CONF) -t -q
	$(NGINX) -p $(RUN_PREFIX)/ -c $(RUN_CONF)
	@echo "edge on http://127.0.0.1:8080/v1/ (write key wk_local_example);"
	@echo "what Kochava would receive: $(RUN_PREFIX)/logs/kochava-sink.jsonl"

stop:
	@if [ -f $(RUN_PREFIX)/logs/nginx.pid ]; then \
	    $(NGINX) -p $(RUN_PREFIX)/ -c $(RUN_CONF) -s quit 2>/dev/null \
	        || true; \
	    sleep 1; \
	fi

# benchmarks (docs/performance.md); nothing in "make test" depends on them
BENCH_DIR    := $(BUILD)/bench
BENCH_BODIES := $(BENCH_DIR)/bodies/track.json

$(BENCH_DIR)/bench_core: bench/bench_core.c $(CORE_SRCS) $(HEADERS)
	@mkdir -p $(BENCH_DIR)
	$(CC) -std=gnu99 -O2 -Wall -Wextra -Werror -I$(SRC_DIR) -o $@ \
	    bench/bench_core.c $(CORE_SRCS) $(CORE_LIBS)

$(BENCH_DIR)/malloc_count.so: bench/malloc_count.c
	@mkdir -p $(BENCH_DIR)
	$(CC) -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $<

$(BENCH_BODIES): bench/gen-bodies.pl
	@mkdir -p $(BENCH_DIR)/bodies
	perl bench/gen-bodies.pl $(BENCH_DIR)/bodies

# the module before the write-ahead journal, for "bench/run journal"
BENCH_BEFORE ?= 672e3ac
BEFORE_MODULE := $(BENCH_DIR)/before/build/ngx_http_kochava_module.so

$(BEFORE_MODULE):
	rm -rf $(BENCH_DIR)/before
	mkdir -p $(BENCH_DIR)/before
	git archive $(BENCH_BEFORE) | tar -x -C $(BENCH_DIR)/before
	$(MAKE) -C $(BENCH_DIR)/before module

bench: all $(BENCH_DIR)/malloc_count.so $(BENCH_BODIES) $(BEFORE_MODULE)
	BEFORE_MODULE=$(BEFORE_MODULE) bench/run $(BENCH_WHAT)

# the fleet store alone: a call of 20 ids against a location answering at
# once (bench/store; BENCH_STORE_PORT, ROUNDS, DURATION)
bench-store: all
	bench/store 20

# batches of 20 with new messageIds: no de-dup, a local zone, the zone with
# store= on a local memcached; the ratio store / zone (bench/run fleet,
# also part of make bench; BENCH_PORT, ROUNDS, DURATION, CONNS)
bench-fleet: all $(BENCH_BODIES)
	bench/run fleet

bench-core: deps $(BENCH_DIR)/bench_core $(BENCH_DIR)/malloc_count.so \
            $(BENCH_BODIES)
	cd $(BENCH_DIR) && ./bench_core -t 1 -r 5 bodies/track.json \
	    bodies/batch-20.json bodies/batch-100.json bodies/batch-2500.json
	cd $(BENCH_DIR) && LD_PRELOAD=$(BENCH_DIR)/malloc_count.so \
	    ./bench_core -t 0.05 -r 1 bodies/track.json \
	    bodies/batch-100.json bodies/batch-2500.json | sed -n '/core malloc/,$$p'

clean: stop
	rm -rf $(BUILD) t/servroot

# --- kochava-replay: the spool drainer (replay/, docs/replay.md) ----------
# self-contained: "all" and "test" gain a prerequisite, nothing else changes
REPLAY       := $(BUILD)/kochava-replay
REPLAY_SRCS  := $(wildcard replay/*.c)
# --version: debian/changelog's upstream version, its one home (as the
# man pages' @VERSION@ in debian/rules)
REPLAY_VERSION := $(shell sed -n '1{s/^[^(]*(\([^)]*\)).*/\1/;s/^[0-9]*://;s/-[^-]*$$//;p}' debian/changelog)
DEB_PACKAGES += python3 valgrind

.PHONY: replay test-replay test-replay-valgrind

all: replay

replay: deps $(REPLAY)

$(REPLAY): $(REPLAY_SRCS) replay/replay.h $(CORE_SRCS) $(HEADERS) \
          debian/changelog
	@mkdir -p $(BUILD)
	$(CC) $(CORE_CFLAGS) -Ireplay -DREPLAY_VERSION='"$(REPLAY_VERSION)"' \
	    -o $@ $(REPLAY_SRCS) $(CORE_SRCS) $(CORE_LIBS) -lcurl

test-replay: replay
	prove tests/replay/run

# the same suite with kochava-replay under valgrind memcheck
test-replay-valgrind: replay
	REPLAY_WRAPPER="$(VALGRIND)" prove tests/replay/run
# --- end kochava-replay ---------------------------------------------------

# --- Debian package (debian/, docs/packaging.md) ---------------------------
# make deb       build/libnginx-mod-http-kochava_<version>_<arch>.deb with
#                dpkg-buildpackage, debhelper and dh_nginx, on a copy of the
#                tree in build/deb/src (the version is debian/changelog's)
# make test-deb  install it in a throw-away Debian 12 chroot (debootstrap,
#                cached in build/deb-chroot), use it there, remove and purge
#                it (tests/deb/run; root, and Debian's mirror for the chroot)
PKG_NAME     := libnginx-mod-http-kochava
PKG_VERSION   = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
PKG_ARCH      = $(shell dpkg --print-architecture)
PKG_DEB       = $(BUILD)/$(PKG_NAME)_$(PKG_VERSION)_$(PKG_ARCH).deb
PKG_DEPS     := build-essential debhelper dpkg-dev fakeroot nginx-dev \
                libjansson-dev libcurl4-openssl-dev zlib1g-dev debootstrap

.PHONY: deb deps-deb test-deb

# "make deps" with the packaging's list
deps-deb:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(PKG_DEPS)"

deb: deps-deb
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	tar -C $(CURDIR) --exclude=./build --exclude=./.git \
	    --exclude=./t/servroot -cf - . | tar -C $(BUILD)/deb/src -xf -
	cd $(BUILD)/deb/src && dpkg-buildpackage -b -us -uc \
	    > $(BUILD)/deb/build.log 2>&1 \
	    || { tail -40 $(BUILD)/deb/build.log; exit 1; }
	mv $(BUILD)/deb/$(PKG_NAME)_$(PKG_VERSION)_$(PKG_ARCH).deb $(PKG_DEB)
	@dpkg-deb --info $(PKG_DEB) | sed -n '/Package:/,/Description:/p'
	@echo "$(PKG_DEB): $$(stat -c %s $(PKG_DEB)) bytes"

test-deb: deb
	tests/deb/run $(PKG_DEB) $(BUILD)/deb-chroot

# --- end Debian package ---------------------------------------------------
