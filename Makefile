# deephealth: one plain Makefile.  `make`, `make check`, `make asan`, `make valgrind`, `make install`.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
PKGS     := fcgi libcurl libconfig libpcre2-8

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wcast-qual -Wwrite-strings -Wno-format-nonliteral
ifeq ($(CI),true)
WARN     += -Werror
endif
OPT      ?= -O2 -g
CFLAGS   ?=
override CFLAGS += -std=c11 $(OPT) $(WARN) -D_DEFAULT_SOURCE -Isrc \
                   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

MAINS    := src/snaptool.c src/probe.c
LIB_SRC  := $(filter-out $(MAINS),$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/%,$(filter-out tests/unit/t.c,$(wildcard tests/unit/test_*.c)))
PROGS    := $(BUILD)/deephealth.fcgi $(BUILD)/deephealth-snap $(BUILD)/deephealth-probe

.PHONY: all check _check unit e2e demo bench asan valgrind install clean deps
all: $(PROGS)

$(BUILD)/obj/%.o: src/%.c src/deephealth.h | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/responder.o: fcgi/responder.c src/deephealth.h | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/deephealth.fcgi: $(BUILD)/obj/responder.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/deephealth-snap: $(BUILD)/obj/snaptool.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/deephealth-probe: $(BUILD)/obj/probe.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The HTTP fixture server integration tests use as a dependency stand-in.
$(BUILD)/httpfix: tests/fixtures/httpfix.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# The Traffic-Manager-style probe emulator of the end-to-end failover suite.
$(BUILD)/tmprobe: tests/e2e/tmprobe.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Benchmark programs: the bare libfcgi baseline and the in-process figures.
$(BUILD)/bench-bare: bench/bare.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/bench-openloop: bench/openloop.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/bench-micro: bench/micro.c $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD)/obj/t.o: tests/unit/t.c tests/unit/t.h | $(BUILD)/obj
	$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/test_%: tests/unit/test_%.c tests/unit/t.h $(BUILD)/obj/t.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/obj/t.o $(LIB_OBJ) $(LDLIBS)

$(BUILD)/obj:
	mkdir -p $@

# Install the Debian packages the build and the tests need (root only; no-op when present).
# Targets that need them run deps first, then a fresh make, so pkg-config is read anew.
deps:
	@sh tests/deps.sh

# Every test: unit tests, then integration tests against real lighttpd and Apache.
check: deps
	@$(MAKE) --no-print-directory _check

_check: all $(BUILD)/httpfix $(BUILD)/tmprobe $(UNIT)
	@BUILD=$(BUILD) bash tests/run.sh $(UNIT)

unit: all $(BUILD)/httpfix $(UNIT)
	@BUILD=$(BUILD) bash tests/run.sh --unit-only $(UNIT)

# Every failover scenario end to end: two regions, a load-balancer emulator (tests/e2e/run.sh).
e2e: deps
	@$(MAKE) --no-print-directory all $(BUILD)/httpfix $(BUILD)/tmprobe
	@BUILD=$(BUILD) bash tests/e2e/run.sh

# The demo: real lighttpd on 127.0.0.1 spawning the responder over a sample snapshot.
demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash tests/demo.sh

# Figures against same-run baselines (never a pass/fail test): see bench/run.sh.
bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/httpfix $(BUILD)/bench-bare $(BUILD)/bench-micro \
	        $(BUILD)/bench-openloop
	@BUILD=$(BUILD) bash bench/run.sh

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build dir.
ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="$(ASAN_OPT)" \
	        LDFLAGS="-fsanitize=address,undefined" _check

# The same suite with every unit test and every responder process under valgrind memcheck.
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/valgrind OPT="-O0 -g" all build/valgrind/httpfix build/valgrind/tmprobe \
	        $(patsubst $(BUILD)/%,build/valgrind/%,$(UNIT))
	@BUILD=build/valgrind DH_VALGRIND=1 bash tests/run.sh $(patsubst $(BUILD)/%,build/valgrind/%,$(UNIT))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/deephealth \
	           $(DESTDIR)$(PREFIX)/share/doc/deephealth $(DESTDIR)/etc/deephealth
	install -m 0755 $(BUILD)/deephealth.fcgi $(DESTDIR)$(PREFIX)/lib/deephealth/deephealth.fcgi
	install -m 0755 $(BUILD)/deephealth-snap $(DESTDIR)$(PREFIX)/bin/deephealth-snap
	install -m 0755 $(BUILD)/deephealth-probe $(DESTDIR)$(PREFIX)/bin/deephealth-probe
	install -m 0644 conf/deephealth.conf conf/lighttpd.conf conf/apache-deephealth.conf \
	           conf/deephealth.cron conf/deephealth-probe.service conf/deephealth-probe.timer \
	           docs/*.md README.md $(DESTDIR)$(PREFIX)/share/doc/deephealth/
	test -e $(DESTDIR)/etc/deephealth/deephealth.conf || \
	    install -m 0644 conf/deephealth.conf $(DESTDIR)/etc/deephealth/deephealth.conf

clean:
	rm -rf build
