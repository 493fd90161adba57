# kickfleet — build, test, benchmark, demo.
#   make            build kickfleet and kickfleet-agent
#   make check      install test dependencies, build with -Werror, run every suite
#   make bench      benchmarks (ratios against baselines run side by side)
#   make demo       the lab: a provisioner and PXE-booting QEMU machines
#   make fuzz       run the fuzz targets for longer (YAML loaders, HTTP requests)
#   make install    PREFIX=/usr/local DESTDIR=
#   make packages   the agent's RPM (EL9) and .deb, and their repositories

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
DATADIR  = $(PREFIX)/share/kickfleet
UNITDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
SYSCONFDIR ?= /etc

CC      ?= cc
# V=1 shows the full commands
V ?= 0
ifeq ($(V),0)
say = @printf '  %-6s %s\n' $(1) $(2);
else
say =
endif
CLANG   ?= clang
B       := build
CSTD    := -std=gnu11
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
OPT     ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Ilib -I. -DKF_DATADIR='"$(DATADIR)"'

# lib/ is shared by both programs: YAML, models, and the adapters both use
# (libvirt + libxml2 for guests, json-c for reports and callbacks).
LIB_PKGS   := yaml-0.1 libvirt libxml-2.0 json-c
AGENT_PKGS := $(LIB_PKGS) libcurl numa libnl-3.0 libnl-route-3.0
PROV_PKGS  := $(LIB_PKGS) libmicrohttpd sqlite3 libarchive nettle libfreeipmi libpq
ALL_PKGS   := $(sort $(LIB_PKGS) $(AGENT_PKGS) $(PROV_PKGS))

pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) $(call pc_cflags,$(ALL_PKGS))
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC   := $(sort $(wildcard lib/*.c))
# lib/sha256.c (nettle) serves the provisioner only: the agent and the
# fuzzers are linked without it and without libnettle.
LIB_NODIGEST_SRC := $(filter-out lib/sha256.c,$(LIB_SRC))
AGENT_SRC := $(sort $(filter-out agent/main.c,$(wildcard agent/*.c)))
PROV_SRC  := $(sort $(filter-out provision/main.c,$(wildcard provision/*.c pxe/*.c kickstart/*.c)))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(1)/obj/%.o,$(2))

# Opened at first use (dlopen, lib/dl.h), not linked: libvirt and libxml2
# (lib/virt.c, lib/domxml.c), libarchive (provision/distro_media.c, for ISO
# images only), libmicrohttpd (provision/http.c, for serve and up),
# libfreeipmi (provision/ipmi.c, for power and reinstall), libpq
# (provision/state_pg.c, for a PostgreSQL state store only), the
# agent's libcurl and libnuma (agent/http.c,
# agent/host_numa.c; the dlopened libnuma calls the agent's numa_warn and
# numa_error, hence exported).  Their headers are still needed; the unit
# tests link everything.
LAZY_PKGS  := libvirt libxml-2.0 libarchive libmicrohttpd libfreeipmi libpq
# The agent runs on the installed hosts, which need not have the libraries
# it must have: those are linked statically (their .a from the -dev
# packages), so it needs only glibc (2.34 or later: EL9, Debian 12) and
# the loader.  tests/suites/26-agent-static.sh runs it in a chroot that
# holds nothing else.
AGENT_STATIC_PKGS := yaml-0.1 json-c libnl-3.0 libnl-route-3.0
AGENT_LIBS := -Wl,-Bstatic $(filter-out -lpthread,$(shell pkg-config --libs --static $(AGENT_STATIC_PKGS) 2>/dev/null)) \
	-Wl,-Bdynamic -lm -lpthread \
	-Wl,--export-dynamic-symbol=numa_warn,--export-dynamic-symbol=numa_error
PROV_LIBS  := $(call pc_libs,$(filter-out $(LAZY_PKGS),$(PROV_PKGS))) -lm -lpthread
TEST_LIBS  := $(call pc_libs,$(ALL_PKGS) cmocka) -lm -lpthread

PROGS := $(B)/kickfleet $(B)/kickfleet-agent
UNITS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
ASAN_UNITS := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
ASAN_PROGS := $(B)/asan/kickfleet $(B)/asan/kickfleet-agent

.PHONY: all deps deps-check check check-fast unit bench demo fuzz install clean tests asan docs packages
all: $(PROGS)

deps:
	@scripts/deps.sh build

deps-check:
	@scripts/deps.sh check

# ---- normal build ----
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/kickfleet-agent: $(call obj,$(B),$(LIB_NODIGEST_SRC) $(AGENT_SRC) agent/main.c)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(B)/kickfleet: $(call obj,$(B),$(LIB_SRC) $(PROV_SRC) provision/main.c)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PROV_LIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(call obj,$(B),$(LIB_SRC) $(AGENT_SRC) $(PROV_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

# ---- sanitizer build (ASan + UBSan) ----
$(B)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC-SAN,$<)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(SAN) $(CFLAGS) -O1 -MMD -MP -c $< -o $@

$(B)/asan/kickfleet-agent: $(call obj,$(B)/asan,$(LIB_NODIGEST_SRC) $(AGENT_SRC) agent/main.c)
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(AGENT_LIBS)

$(B)/asan/kickfleet: $(call obj,$(B)/asan,$(LIB_SRC) $(PROV_SRC) provision/main.c)
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(PROV_LIBS)

$(B)/asan/tests/%: $(B)/asan/obj/tests/unit/%.o $(call obj,$(B)/asan,$(LIB_SRC) $(AGENT_SRC) $(PROV_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(TEST_LIBS)

# ---- fuzzing (libFuzzer, clang) ----
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_NODIGEST_SRC)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(CPPFLAGS) $(CSTD) $(FUZZ_FLAGS) $(call pc_cflags,$(LIB_PKGS)) -o $@ $^ $(call pc_libs,$(LIB_PKGS)) -lm
# the HTTP request path: the whole provisioner, its objects built once
# with coverage (-fsanitize=fuzzer-no-link) and linked like the unit tests
FUZZ_OBJ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC-FUZZ,$<)$(CLANG) $(CPPFLAGS) $(CSTD) $(FUZZ_OBJ_FLAGS) $(call pc_cflags,$(ALL_PKGS)) -MMD -MP -c $< -o $@
$(B)/fuzz/fuzz_http: $(patsubst %.c,$(B)/fuzzobj/%.o,tests/fuzz/fuzz_http.c $(LIB_SRC) $(PROV_SRC))
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ $^ $(TEST_LIBS)

tests: $(PROGS) $(UNITS)
asan: $(ASAN_PROGS) $(ASAN_UNITS)

# `make check`: everything the CI runs.
check: deps-check
	@$(MAKE) --no-print-directory all tests asan $(FUZZERS)
	@$(MAKE) --no-print-directory packages
	@tests/run.sh

# The fast part only (unit, data, sysroot), for the edit-compile loop.
check-fast: all tests asan
	@KF_SUITES="unit data sysroot" tests/run.sh

# the YAML loaders for FUZZ_SECONDS each; the HTTP request path
# (fuzz_http, seeded with the hostile corpus) for FUZZ_HTTP_RUNS inputs
FUZZ_SECONDS ?= 300
FUZZ_HTTP_RUNS ?= 1000000
fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do \
		n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$n; \
		if [ $$n = fuzz_http ]; then \
			echo "fuzz: $$n for $(FUZZ_HTTP_RUNS) inputs"; \
			set -- -runs=$(FUZZ_HTTP_RUNS) tests/data/http/corpus tests/fuzz/http; \
		else \
			echo "fuzz: $$n for $(FUZZ_SECONDS)s"; set -- -max_total_time=$(FUZZ_SECONDS) tests/fuzz/seed; \
		fi; \
		TOP=$(CURDIR) $$f -print_final_stats=1 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-$$n "$$@" 2>&1 | \
			grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
	done

# build/packages/rpm (kickfleet-agent-V-1.el9.x86_64.rpm + repodata) and
# build/packages/deb (kickfleet-agent_V-1_amd64.deb + a flat apt
# repository); V is KF_VERSION in lib/subcmd.h.  `kickfleet render` copies
# them under the HTTP root (docs/packages.md).
packages: $(B)/kickfleet-agent
	@scripts/packages.sh $(B)/packages

bench: 
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all packages
	@bench/run.sh

demo: deps-check
	@$(MAKE) --no-print-directory all packages
	@tests/e2e/demo.sh

docs: $(B)/kickfleet-agent $(B)/kickfleet
	$(B)/kickfleet-agent schema > docs/profile-reference.md
	$(B)/kickfleet schema > docs/inventory-reference.md

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/profiles \
		$(DESTDIR)$(DATADIR)/kickstart/snippets $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/kickfleet $(DESTDIR)$(DATADIR)/ui
	install -m 755 $(B)/kickfleet $(B)/kickfleet-agent $(DESTDIR)$(BINDIR)/
	install -m 644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 profiles/*.yaml $(DESTDIR)$(DATADIR)/profiles/
	install -m 644 kickstart/*.ks kickstart/*.preseed $(DESTDIR)$(DATADIR)/kickstart/
	install -m 644 kickstart/snippets/* $(DESTDIR)$(DATADIR)/kickstart/snippets/
	install -m 644 examples/*.yaml $(DESTDIR)$(DATADIR)/examples/
	install -m 644 provision/ui/* $(DESTDIR)$(DATADIR)/ui/
	install -d $(DESTDIR)$(DATADIR)/discovery
	install -m 755 pxe/discovery/init pxe/discovery/udhcpc $(DESTDIR)$(DATADIR)/discovery/
	install -m 644 agent/systemd/*.service agent/systemd/*.timer $(DESTDIR)$(UNITDIR)/
	sed -i 's#/usr/bin/kickfleet-agent#$(BINDIR)/kickfleet-agent#' $(DESTDIR)$(UNITDIR)/kickfleet-agent*.service
	install -m 644 provision/systemd/kickfleet.service $(DESTDIR)$(UNITDIR)/
	sed -i 's#/usr/bin/kickfleet #$(BINDIR)/kickfleet #' $(DESTDIR)$(UNITDIR)/kickfleet.service
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 644 provision/systemd/kickfleet.sysusers $(DESTDIR)$(SYSUSERSDIR)/kickfleet.conf
	if [ -f $(B)/packages/rpm/repodata/repomd.xml ]; then \
		rm -rf $(DESTDIR)$(DATADIR)/packages && cp -r $(B)/packages $(DESTDIR)$(DATADIR)/packages; fi

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
