# ngx_api_led_module
#
#   make              build build/objs/ngx_api_led_module.so
#   make test         install what is missing, build, start a private Redis,
#                     run the Test::Nginx suite
#   make test-valgrind  the same with nginx under valgrind memcheck
#   make test-asan    the same with an ASan+UBSan build of the module
#                     (build-asan/, clang) preloaded into nginx
#   make nginx-tests  nginx's own test suite without and with the module
#   make demo         install what is missing, build, start the demo gateway
#                     on 127.0.0.1:8080 (its ports: 8080 to 8099)
#   make demo PORT=N  the same on N (its ports: N to N+19)
#   make demo-stop    stop it
#   make deps         install the missing Debian packages (demo/deps)
#   make bench        side-by-side benchmarks (bench/README.md)
#   make soak         reloads and Redis faults under load, then a 10-minute
#                     memory soak (bench/README.md; SOAK_* variables)
#   make fuzz         build the libFuzzer targets, run each FUZZ_SECONDS
#   make fuzz-smoke   the same, 3 s each, known defects let through (CI)

NGINX_SRC  ?= /usr/share/nginx/src
NGINX_BIN  ?= /usr/sbin/nginx
BUILD      ?= $(CURDIR)/build
CC_OPT     ?= -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror
TESTS_ARGS ?= -r t/

# make test-asan: the module built apart, with AddressSanitizer and UBSan;
# ASAN_RECOVER=1: UBSan findings do not stop nginx (all of a run listed)
ASAN_RECOVER ?=
ASAN_BUILD  ?= $(CURDIR)/build-asan$(if $(ASAN_RECOVER),-recover)
ASAN_CC     ?= $(if $(shell command -v clang),clang,gcc)
ASAN_CC_OPT ?= -g -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all \
               -Wall -Wextra -Wno-unused-parameter -Werror \
               $(if $(findstring clang,$(ASAN_CC)), \
                   -fsanitize-ignorelist=$(CURDIR)/tools/asan.ignorelist, \
                   --param asan-globals=0) \
               $(if $(ASAN_RECOVER),-fsanitize-recover=undefined)
ASAN_RECOVER_ENV := UBSAN_OPTIONS=halt_on_error=0,abort_on_error=0

SHELL      := /bin/bash

MODULE     := $(BUILD)/objs/ngx_api_led_module.so
SRCS       := $(sort $(wildcard ngx_api_led_module/*/*.c))
HDRS       := $(wildcard ngx_api_led_module/*/*.h)

# reconfigure when a source file is added or removed
$(shell mkdir -p $(BUILD) && (echo '$(SRCS) $(NGINX_SRC)' \
    | cmp -s - $(BUILD)/srcs.list || echo '$(SRCS) $(NGINX_SRC)' \
    > $(BUILD)/srcs.list))

.PHONY: all build test test-valgrind demo demo-stop bench soak clean deps
.PHONY: test-asan nginx-tests fuzz fuzz-smoke

all: build

build: $(MODULE)

$(BUILD)/objs/Makefile: config Makefile $(BUILD)/srcs.list
	rm -rf $(BUILD)/nginx-src
	cp -a $(NGINX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && \
	    if [ -f conf_flags ]; then . ./conf_flags; \
	    else NGX_CONF_FLAGS=(--with-compat); fi && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(CC_OPT)" \
	        --builddir=$(BUILD)/objs \
	        --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { tail -n 20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/objs/Makefile $(SRCS) $(HDRS)
	$(MAKE) -s -f $(BUILD)/objs/Makefile -C $(BUILD)/nginx-src modules

# the packages first: make -j may not start the build before them
test: deps
	$(MAKE) --no-print-directory build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) t/run $(TESTS_ARGS)

test-valgrind: deps
	$(MAKE) --no-print-directory build
	TEST_NGINX_USE_VALGRIND=1 NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) \
	    TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-15} t/run $(TESTS_ARGS)

# the CC of the environment reaches nginx's configure
test-asan:
	CC=$(ASAN_CC) $(MAKE) BUILD=$(ASAN_BUILD) CC_OPT="$(ASAN_CC_OPT)" build
	$(if $(ASAN_RECOVER),$(ASAN_RECOVER_ENV)) NGINX_BIN=$(NGINX_BIN) \
	    MODULE=$(ASAN_BUILD)/objs/ngx_api_led_module.so \
	    tools/test-asan.sh $(TESTS_ARGS)

nginx-tests: build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) tools/nginx-tests.sh

deps:
	./demo/deps

# make demo PORT=N (only a PORT given to make, not one of the environment);
# DEMO_REDIS_PORT=M puts the demo's Redis on M instead of N+19
ifeq ($(origin PORT),command line)
DEMO_PORT := $(PORT)
endif

demo: deps
	$(MAKE) --no-print-directory build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) DEMO_PORT=$(DEMO_PORT) \
	    DEMO_REDIS_PORT=$(DEMO_REDIS_PORT) demo/demo start

demo-stop:
	demo/demo stop

bench: build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bench/run

soak: deps
	$(MAKE) --no-print-directory build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bench/soak.sh

# libFuzzer targets (clang, a full nginx source tree: fuzz/README.md)
fuzz:
	$(MAKE) -C fuzz run

fuzz-smoke:
	$(MAKE) -C fuzz smoke

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CURDIR)/build-asan-recover t/servroot*
