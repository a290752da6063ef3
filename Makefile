# ngx_api_led_module
#
#   make              build build/objs/ngx_api_led_module.so
#   make test         build, start a private Redis, run the Test::Nginx suite
#   make test-valgrind  the same with nginx under valgrind memcheck
#   make demo         install what is missing, build, start the demo gateway
#   make demo-stop    stop it
#   make bench        side-by-side benchmarks (bench/README.md)

NGINX_SRC  ?= /usr/share/nginx/src
NGINX_BIN  ?= /usr/sbin/nginx
BUILD      ?= $(CURDIR)/build
CC_OPT     ?= -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror
TESTS_ARGS ?= -r t/

SHELL      := /bin/bash

MODULE     := $(BUILD)/objs/ngx_api_led_module.so
SRCS       := $(sort $(wildcard ngx_api_led_module/*/*.c))
HDRS       := $(wildcard ngx_api_led_module/*/*.h)

# reconfigure when a source file is added or removed
$(shell mkdir -p $(BUILD) && (echo '$(SRCS) $(NGINX_SRC)' \
    | cmp -s - $(BUILD)/srcs.list || echo '$(SRCS) $(NGINX_SRC)' \
    > $(BUILD)/srcs.list))

.PHONY: all build test test-valgrind demo demo-stop bench clean deps

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

test: build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) t/run $(TESTS_ARGS)

test-valgrind: build
	TEST_NGINX_USE_VALGRIND=1 NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) \
	    t/run $(TESTS_ARGS)

deps:
	./demo/deps

demo: deps build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) demo/demo start

demo-stop:
	demo/demo stop

bench: build
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bench/run

clean:
	rm -rf $(BUILD) t/servroot*
