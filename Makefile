# deephealth: one plain Makefile.  `make`, `make check`, `make asan`, `make valgrind`, `make install`.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
PKGS     := fcgi libcurl libconfig libpcre2-8 jansson

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

# One short line per file (CC src/conf.c, LD build/deephealthctl); make V=1 prints the
# whole commands.
V ?= 0
ifeq ($(V),1)
Q   :=
say  = @:
else
Q   := @
say  = @printf '  %-4s %s\n'
endif

# The tree by program (docs/architecture.md): src/*.c is shared by every program;
# src/answer/ (Host -> registry -> decision -> reply) and src/admin/ (the status, metrics and
# events documents) by the responder and deephealthctl;
# fcgi/ is the responder, src/prober/ the prober, src/ctl/ deephealthctl, src/snaptool/ the
# snapshot tool.  Each program links only what it uses (tests/integration/test_cli.sh
# checks with nm and ldd): the web-facing responder has no libcurl and no check code, the
# snapshot tool none of the four libraries.
O          := $(BUILD)/obj
obj         = $(patsubst %.c,$(O)/%.o,$(1))
SHARED_SRC := $(wildcard src/*.c)
ANSWER_SRC := $(wildcard src/answer/*.c)
ADMIN_SRC  := $(wildcard src/admin/*.c)
FCGI_SRC   := $(wildcard fcgi/*.c)
PROBE_SRC  := $(wildcard src/prober/*.c)
CTL_SRC    := $(wildcard src/ctl/*.c)
SNAP_SRC   := $(wildcard src/snaptool/*.c)
FOLLOW_SRC := $(wildcard src/follow/*.c)
HEADERS    := $(wildcard src/*.h fcgi/*.h src/*/*.h)
FCGI_OBJ   := $(call obj,$(FCGI_SRC) $(ADMIN_SRC) $(ANSWER_SRC) $(SHARED_SRC))
PROBE_OBJ  := $(call obj,$(PROBE_SRC) $(SHARED_SRC))
CTL_OBJ    := $(call obj,$(CTL_SRC) $(ADMIN_SRC) $(ANSWER_SRC) $(SHARED_SRC))
SNAP_OBJ   := $(call obj,$(SNAP_SRC) src/snap.c src/publish.c src/log.c src/util.c)
FOLLOW_OBJ := $(call obj,$(FOLLOW_SRC) $(SHARED_SRC))
# Everything but the mains, for the unit tests and the in-process benchmark.
LIB_OBJ    := $(call obj,$(SHARED_SRC) $(ANSWER_SRC) $(ADMIN_SRC) $(filter-out fcgi/responder.c,$(FCGI_SRC)) \
                         $(filter-out src/prober/prober.c,$(PROBE_SRC)) \
                         $(filter-out src/follow/follow.c,$(FOLLOW_SRC)))
FCGI_LIBS  := $(shell pkg-config --libs fcgi libconfig libpcre2-8 2>/dev/null)
PROBE_LIBS := $(shell pkg-config --libs libcurl libconfig libpcre2-8 2>/dev/null)
CTL_LIBS   := $(shell pkg-config --libs libconfig libpcre2-8 libcurl jansson 2>/dev/null)
FOLLOW_LIBS := $(shell pkg-config --libs libcurl libconfig 2>/dev/null)
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/%,$(filter-out tests/unit/t.c,$(wildcard tests/unit/test_*.c)))
PROGS    := $(BUILD)/deephealth.fcgi $(BUILD)/deephealth-snap $(BUILD)/deephealth-probe \
            $(BUILD)/deephealthctl $(BUILD)/deephealth-follow
# Test and benchmark programs see every header.
ALL_INC  := -Ifcgi -Isrc/answer -Isrc/admin -Isrc/prober -Isrc/ctl -Isrc/follow

.PHONY: all check _check unit e2e demo bench asan valgrind install clean deps lint
all: $(PROGS)

# A program's own directory holds its header; shared code sees only src/deephealth.h.
$(O)/fcgi/%.o: fcgi/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Ifcgi -Isrc/admin -Isrc/answer -c -o $@ $<

$(O)/src/answer/%.o: src/answer/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Isrc/answer -c -o $@ $<

# The admin side sees the answer's header (what a responder sees), never the reverse.
$(O)/src/admin/%.o: src/admin/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Isrc/admin -Isrc/answer -c -o $@ $<

$(O)/src/prober/%.o: src/prober/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Isrc/prober -c -o $@ $<

$(O)/src/ctl/%.o: src/ctl/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Isrc/ctl -Isrc/admin -Isrc/answer -c -o $@ $<

$(O)/src/follow/%.o: src/follow/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Isrc/follow -c -o $@ $<

$(O)/src/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/deephealth.fcgi: $(FCGI_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(FCGI_LIBS)

$(BUILD)/deephealth-snap: $(SNAP_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/deephealth-probe: $(PROBE_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PROBE_LIBS)

$(BUILD)/deephealthctl: $(CTL_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CTL_LIBS)

$(BUILD)/deephealth-follow: $(FOLLOW_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(FOLLOW_LIBS)

# The HTTP fixture server integration tests use as a dependency stand-in.
$(BUILD)/httpfix: tests/fixtures/httpfix.c | $(BUILD)/obj
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# The Traffic-Manager-style probe emulator of the end-to-end failover suite.
$(BUILD)/tmprobe: tests/e2e/tmprobe.c | $(BUILD)/obj
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Benchmark programs: the bare libfcgi baseline (libfcgi only, as a minimal responder would
# link) and the in-process figures.
$(BUILD)/bench-bare: bench/bare.c | $(BUILD)/obj
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs fcgi 2>/dev/null)

$(BUILD)/bench-spawn: bench/spawn.c | $(BUILD)/obj
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/bench-openloop: bench/openloop.c | $(BUILD)/obj
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/bench-micro: bench/micro.c $(LIB_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(ALL_INC) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD)/obj/t.o: tests/unit/t.c tests/unit/t.h | $(BUILD)/obj
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/test_%: tests/unit/test_%.c tests/unit/t.h $(BUILD)/obj/t.o $(LIB_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(ALL_INC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/t.o $(LIB_OBJ) $(LDLIBS)

$(BUILD)/obj:
	@mkdir -p $@

# Coverage-guided fuzzing of every parser (libFuzzer, clang): make fuzz, make fuzz-smoke.
include fuzz/fuzz.mk

# Install the Debian packages the build and the tests need (root only; no-op when present).
# Targets that need them run deps first, then a fresh make, so pkg-config is read anew.
deps:
	@sh tests/deps.sh

# Every test: unit tests, then integration tests against real lighttpd and Apache.
check: deps
	@$(MAKE) --no-print-directory _check

_check: all $(BUILD)/httpfix $(BUILD)/tmprobe $(BUILD)/bench-openloop $(UNIT)
	@BUILD=$(BUILD) bash tests/run.sh $(UNIT)

unit: all $(BUILD)/httpfix $(UNIT)
	@BUILD=$(BUILD) bash tests/run.sh --unit-only $(UNIT)

# Every failover scenario end to end: two regions, a load-balancer emulator (tests/e2e/run.sh),
# a region of many front doors (tests/e2e/fleet.sh), then the real load balancers (PowerDNS,
# gdnsd, HAProxy) running what deephealthctl lb generates (tests/e2e/lb.sh), then the shipped
# alerting rules in a real Prometheus and Alertmanager over real front doors (tests/e2e/alerts.sh),
# then every reload and roll at full count under 1,000 probes a second (test_reload.sh).
e2e: deps
	@$(MAKE) --no-print-directory all $(BUILD)/httpfix $(BUILD)/tmprobe $(BUILD)/bench-openloop
	@BUILD=$(BUILD) bash tests/e2e/run.sh
	@BUILD=$(BUILD) bash tests/e2e/fleet.sh
	@BUILD=$(BUILD) bash tests/e2e/lb.sh
	@BUILD=$(BUILD) bash tests/e2e/alerts.sh
	@RELOAD_FULL=1 BUILD=$(BUILD) bash tests/integration/test_reload.sh

# The demo: real lighttpd on 127.0.0.1 spawning the responder over a sample snapshot.
demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/httpfix
	@BUILD=$(BUILD) bash tests/demo.sh

# Figures against same-run baselines (never a pass/fail test): see bench/run.sh.
bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/httpfix $(BUILD)/bench-bare $(BUILD)/bench-micro \
	        $(BUILD)/bench-openloop $(BUILD)/bench-spawn
	@BUILD=$(BUILD) bash bench/run.sh

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build dir.
ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="$(ASAN_OPT)" \
	        LDFLAGS="-fsanitize=address,undefined" _check

# The same suite with every unit test and every responder process under valgrind memcheck.
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/valgrind OPT="-O0 -g" all build/valgrind/httpfix build/valgrind/tmprobe build/valgrind/bench-openloop \
	        $(patsubst $(BUILD)/%,build/valgrind/%,$(UNIT))
	@BUILD=build/valgrind DH_VALGRIND=1 bash tests/run.sh $(patsubst $(BUILD)/%,build/valgrind/%,$(UNIT))

# ---- install / uninstall.  Paths in the shipped files are written for PREFIX=/usr/local,
# SYSCONFDIR=/etc, LOCALSTATEDIR=/var; install substitutes the real ones.  As root with no
# DESTDIR it also creates the prober's user and its state directory; a staged install
# (DESTDIR) leaves that to the package (debian/deephealth.postinst).
SYSCONFDIR     ?= /etc
LOCALSTATEDIR  ?= /var
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DH_USER        ?= deephealth
CONFDIR  := $(SYSCONFDIR)/deephealth
STATEDIR := $(LOCALSTATEDIR)/lib/deephealth
MANPAGES := $(wildcard docs/man/*.[158])
# What install puts where, as "source destination" pairs of generated files.
DIST     := $(BUILD)/dist
DIST_SUBST = sed -e 's\#/usr/local\#$(PREFIX)\#g' -e 's\#/etc/deephealth\#$(CONFDIR)\#g' \
                 -e 's\#/var/lib/deephealth\#$(STATEDIR)\#g' -e 's\#/etc/cron.d\#$(SYSCONFDIR)/cron.d\#g'
DIST_FILES := deephealth.conf registries.map regions.conf deephealth.cron deephealth-probe.service \
              deephealth-probe.timer deephealth-fcgi.socket deephealth-fcgi.service lighttpd.conf \
              apache-deephealth.conf apache-deephealth-proxy.conf nginx-deephealth.conf \
              lighttpd-snapshot.conf deephealth-follow.service deephealth-follow.timer
# Installed config-like files: removed by uninstall only while unchanged.
KEPT := $(CONFDIR)/deephealth.conf:deephealth.conf $(CONFDIR)/registries.map:registries.map \
        $(CONFDIR)/regions.conf:regions.conf \
        $(SYSCONFDIR)/cron.d/deephealth:deephealth.cron \
        $(SYSCONFDIR)/lighttpd/conf-available/50-deephealth.conf:lighttpd.conf \
        $(SYSCONFDIR)/lighttpd/conf-available/51-deephealth-snapshot.conf:lighttpd-snapshot.conf \
        $(SYSCONFDIR)/apache2/conf-available/deephealth.conf:apache-deephealth.conf \
        $(SYSCONFDIR)/apache2/conf-available/deephealth-proxy-fcgi.conf:apache-deephealth-proxy.conf \
        $(SYSCONFDIR)/nginx/snippets/deephealth.conf:nginx-deephealth.conf
UNITS := deephealth-probe.service deephealth-probe.timer deephealth-fcgi.socket deephealth-fcgi.service \
         deephealth-follow.service deephealth-follow.timer

.PHONY: dist-files uninstall
dist-files:
	@mkdir -p $(DIST)
	@for f in $(DIST_FILES); do \
	    [ -e conf/$$f ] || { echo "missing conf/$$f" >&2; exit 1; }; \
	    $(DIST_SUBST) conf/$$f >$(DIST)/$$f.new && mv $(DIST)/$$f.new $(DIST)/$$f; done

install: all dist-files
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/deephealth \
	           $(DESTDIR)$(PREFIX)/share/doc/deephealth $(DESTDIR)$(PREFIX)/share/man/man1 \
	           $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	           $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(SYSCONFDIR)/cron.d \
	           $(DESTDIR)$(SYSCONFDIR)/lighttpd/conf-available \
	           $(DESTDIR)$(SYSCONFDIR)/apache2/conf-available $(DESTDIR)$(SYSCONFDIR)/nginx/snippets \
	           $(DESTDIR)$(PREFIX)/share/deephealth/www
	install -m 0755 $(BUILD)/deephealth.fcgi $(DESTDIR)$(PREFIX)/lib/deephealth/deephealth.fcgi
	install -m 0755 $(BUILD)/deephealth-probe $(DESTDIR)$(PREFIX)/sbin/deephealth-probe
	install -m 0755 $(BUILD)/deephealthctl $(DESTDIR)$(PREFIX)/sbin/deephealthctl
	install -m 0755 $(BUILD)/deephealth-follow $(DESTDIR)$(PREFIX)/sbin/deephealth-follow
	install -m 0755 $(BUILD)/deephealth-snap $(DESTDIR)$(PREFIX)/bin/deephealth-snap
	for m in $(MANPAGES); do \
	    install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/}; done
	@# the operator's documents; docs/architecture.md is the developers' map and stays in the tree
	install -m 0644 README.md LICENSE $(filter-out docs/architecture.md,$(wildcard docs/*.md)) $(DESTDIR)$(PREFIX)/share/doc/deephealth/
	for u in $(UNITS); do install -m 0644 $(DIST)/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	@# the status page, served by the snippets at /deephealth/ (loopback only)
	install -m 0644 $(wildcard www/admin/*.html www/admin/*.css www/admin/*.js) $(DESTDIR)$(PREFIX)/share/deephealth/www/
	@# Prometheus's alerting rules, for rule_files: under share, not /etc/prometheus (the file says why)
	install -m 0644 conf/deephealth-alerts.yml $(DESTDIR)$(PREFIX)/share/deephealth/deephealth-alerts.yml
	@# Configuration: never overwrite what is there (the operator's).
	@for pair in $(KEPT); do dst=$(DESTDIR)$${pair%%:*}; src=$(DIST)/$${pair##*:}; \
	    if [ -e $$dst ]; then echo "kept $$dst (exists; the shipped one is $$src)"; \
	    else echo "install -m 0644 $$src $$dst"; install -m 0644 $$src $$dst || exit 1; fi; done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    if ! getent passwd $(DH_USER) >/dev/null; then \
	        echo "creating system user $(DH_USER)"; \
	        useradd --system --user-group --home-dir $(STATEDIR) --no-create-home \
	                --shell /usr/sbin/nologin --comment "deephealth prober" $(DH_USER) || exit 1; fi; \
	    install -d -o $(DH_USER) -g $(DH_USER) -m 0755 $(STATEDIR); \
	    echo "state directory $(STATEDIR): $(DH_USER):$(DH_USER) 0755"; \
	else \
	    install -d -m 0755 $(DESTDIR)$(STATEDIR); \
	    echo "state directory $(DESTDIR)$(STATEDIR) created; chown it to the prober's user ($(DH_USER))"; \
	fi

# Removes what install put there; never a configuration file the operator changed, never
# the state directory or the prober's user (remove them by hand: userdel deephealth).
uninstall: dist-files
	rm -f $(DESTDIR)$(PREFIX)/lib/deephealth/deephealth.fcgi $(DESTDIR)$(PREFIX)/sbin/deephealth-probe \
	      $(DESTDIR)$(PREFIX)/sbin/deephealthctl $(DESTDIR)$(PREFIX)/sbin/deephealth-follow \
	      $(DESTDIR)$(PREFIX)/bin/deephealth-snap
	for m in $(MANPAGES); do rm -f $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/}; done
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/deephealth $(DESTDIR)$(PREFIX)/share/deephealth/www
	rm -f $(DESTDIR)$(PREFIX)/share/deephealth/deephealth-alerts.yml
	for u in $(UNITS); do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	@for pair in $(KEPT); do dst=$(DESTDIR)$${pair%%:*}; src=$(DIST)/$${pair##*:}; \
	    [ -e $$dst ] || continue; \
	    if ! cmp -s $$src $$dst; then echo "kept $$dst: changed since install"; \
	    elif [ -n "$$(find $(DESTDIR)$(SYSCONFDIR)/lighttpd/conf-enabled $(DESTDIR)$(SYSCONFDIR)/apache2/conf-enabled \
	              -lname "*/$${dst##*/}" 2>/dev/null)" ]; then \
	        echo "kept $$dst: still enabled (lighty-disable-mod deephealth, or a2disconf $$(basename $$dst .conf), first)"; \
	    else echo "rm -f $$dst"; rm -f $$dst; fi; done
	-rmdir $(DESTDIR)$(PREFIX)/lib/deephealth $(DESTDIR)$(PREFIX)/share/deephealth $(DESTDIR)$(CONFDIR) 2>/dev/null
	@echo "left in place: $(STATEDIR) and the user $(DH_USER), if any"

# Static analysis of every C file in the tree (cppcheck from Debian); .ci/run runs it.  A
# finding fails the build; a false positive is fixed in the code, or suppressed inline with
# a comment saying why.
LINT_FLAGS := --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 \
              --inline-suppr -D_DEFAULT_SOURCE -Isrc $(ALL_INC) -Itests/unit
lint: deps
	cppcheck $(LINT_FLAGS) src fcgi bench tests/unit tests/fixtures tests/e2e

clean:
	rm -rf build
