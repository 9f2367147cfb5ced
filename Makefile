# SPDX-License-Identifier: MIT
# One non-recursive Makefile for initrd-test. Quiet unless V=1.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/initrd-test
LIBEXECDIR ?= $(PREFIX)/libexec/initrd-test
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
WERROR ?= 1
ACCEL ?= tcg
O := build
.DEFAULT_GOAL := all

PKGS := libarchive libcurl libpcre2-8 libcrypto zlib libzstd jansson
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	-Wvla -Wwrite-strings -Wundef
ifeq ($(WERROR),1)
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DIT_VERSION='"$(VERSION)"' \
	-DIT_BINDIR='"$(BINDIR)"' -DIT_DATADIR='"$(DATADIR)"' -DIT_LIBEXECDIR='"$(LIBEXECDIR)"' $(OPT) $(WARN) -I. $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS)
LIBS := $(PKG_LIBS) -lutil

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMMON_SRC := $(wildcard common/*.c)
BUILDER_SRC := $(wildcard builder/*.c)
EXPECT_SRC := $(wildcard expect/*.c)
RUNNER_SRC := $(wildcard runner/*.c)
SCENARIO_SRC := $(wildcard scenario/*.c)
AGENT_SRC := $(wildcard agent/*.c)
APP_SRC := $(wildcard src/*.c)
MAIN_SRC := src/main.c
APPLIB_SRC := $(filter-out $(MAIN_SRC),$(APP_SRC))

obj = $(patsubst %.c,$(O)/%.o,$(1))

# One static library per module, so a test links only the modules it tests.
LIB_common := $(O)/libcommon.a
LIB_builder := $(O)/libbuilder.a
LIB_expect := $(O)/libexpect.a
LIB_runner := $(O)/librunner.a
LIB_scenario := $(O)/libscenario.a
LIB_agent := $(O)/libagent.a
LIB_app := $(O)/libapp.a
$(LIB_common): $(call obj,$(COMMON_SRC))
$(LIB_builder): $(call obj,$(BUILDER_SRC))
$(LIB_expect): $(call obj,$(EXPECT_SRC))
$(LIB_runner): $(call obj,$(RUNNER_SRC))
$(LIB_scenario): $(call obj,$(SCENARIO_SRC))
$(LIB_agent): $(call obj,$(AGENT_SRC))
$(LIB_app): $(call obj,$(APPLIB_SRC))
# Link order: dependents first.
DEPS_common := $(LIB_common)
DEPS_builder := $(LIB_builder) $(LIB_common)
DEPS_expect := $(LIB_expect) $(LIB_common)
DEPS_runner := $(LIB_runner) $(LIB_common)
DEPS_scenario := $(LIB_scenario) $(LIB_builder) $(LIB_runner) $(LIB_expect) $(LIB_common)
DEPS_agent := $(LIB_agent) $(LIB_common)
DEPS_app := $(LIB_app) $(LIB_scenario) $(LIB_agent) $(LIB_builder) $(LIB_runner) $(LIB_expect) $(LIB_common)

# tests/unit/check_<module>[_<part>].c links that module's libraries.
UNIT_SRC := $(wildcard tests/unit/check_*.c)
UNIT_NAMES := $(patsubst tests/unit/check_%.c,%,$(UNIT_SRC))
UNIT_BINS := $(patsubst %,$(O)/tests/check_%,$(UNIT_NAMES))
UNIT_HELPER_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(call obj,$(UNIT_HELPER_SRC))
module_of = $(firstword $(subst _, ,$(1)))

BIN := initrd-test

.PHONY: all agent check unit e2e asan valgrind lint fuzz bench install uninstall clean demo deps FORCE
all: $(BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/lib%.a:
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(call obj,$(MAIN_SRC)) $(DEPS_app)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DEPS_app) $(LIBS)

# The host kernel the tests boot, as a header regenerated when the newest kernel changes.
HOSTKERNEL_H := $(O)/tests/hostkernel.h
$(HOSTKERNEL_H): FORCE
	@mkdir -p $(dir $@)
	$(Q)tests/hostkernel.sh >$@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
FORCE:
# The install directories are compiled in: a new PREFIX rebuilds the files that use them.
DIRS_STAMP := $(O)/install-dirs
$(DIRS_STAMP): FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(BINDIR) $(DATADIR) $(LIBEXECDIR)' >$@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
$(call obj,common/util.c builder/build.c src/image.c src/main.c src/scenario_find.c src/cmd_run.c): $(DIRS_STAMP)
$(call obj,$(UNIT_SRC) $(UNIT_HELPER_SRC)): CHECK_CFLAGS += -I$(O)/tests
$(call obj,$(UNIT_SRC) $(UNIT_HELPER_SRC)): | $(HOSTKERNEL_H)

define unit_rule
$(O)/tests/check_$(1): $(O)/tests/unit/check_$(1).o $(UNIT_HELPER_OBJS) $$(DEPS_$(call module_of,$(1)))
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  LD      $$@")
	$$(Q)$$(CC) $$(ALL_CFLAGS) $$(ALL_LDFLAGS) -o $$@ $$< $(UNIT_HELPER_OBJS) $$(DEPS_$(call module_of,$(1))) $$(CHECK_LIBS) $$(LIBS)
endef
$(foreach n,$(UNIT_NAMES),$(eval $(call unit_rule,$(n))))

# crashtest.ko (tests/kmod/crashtest), built with debug info against the host's headers, for
# the symbolizer's unit tests (src/symbolize.c).
CRASHTEST_KO := $(O)/tests/crashtest/crashtest.ko
$(CRASHTEST_KO): tests/kmod/crashtest/crashtest.c tests/kmod/crashtest/Kbuild tests/kmod/crashtest/build.sh
	$(if $(Q),@echo "  KMOD    $@")
	$(Q)tests/kmod/crashtest/build.sh $(dir $@)
$(O)/tests/check_app_symbolize: | $(CRASHTEST_KO)
$(O)/tests/unit/check_app_symbolize.o: CHECK_CFLAGS += -DCRASHTEST_DIR='"$(CURDIR)/$(dir $(CRASHTEST_KO))"'

# The guest agent (agent/guest, docs/agent-protocol.md): static against musl for the VM, and
# the same source built with CC for the unit tests, which run it on the host with --fd.
MUSL_CC ?= musl-gcc
AGENT_GUEST_SRC := $(wildcard agent/guest/*.c) agent/proto.c agent/sha256.c
AGENT_GUEST_HDR := $(wildcard agent/*.h agent/guest/*.h)
AGENT_GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -I.
AGENT_BIN := $(O)/agent/initrd-test-agent
AGENT_NATIVE := $(O)/agent/initrd-test-agent-native
AGENT_DRIVE := $(O)/tests/tools/agent-drive
agent: $(AGENT_BIN) $(AGENT_NATIVE) $(AGENT_DRIVE)
# Every image gets the agent (unless 'agent off'): it is built with the binary.
all: $(AGENT_BIN)
$(AGENT_BIN): $(AGENT_GUEST_SRC) $(AGENT_GUEST_HDR)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  MUSL    $@")
	$(Q)$(MUSL_CC) $(AGENT_GUEST_CFLAGS) -Os -static -s -o $@ $(AGENT_GUEST_SRC)
$(AGENT_NATIVE): $(AGENT_GUEST_SRC) $(AGENT_GUEST_HDR)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(AGENT_GUEST_CFLAGS) $(OPT) $(CFLAGS) $(LDFLAGS) -o $@ $(AGENT_GUEST_SRC)
# A host program that drives a real guest's agent (tests/tools/agent-drive.c).
$(AGENT_DRIVE): $(O)/tests/tools/agent-drive.o $(DEPS_agent)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DEPS_agent) $(LIBS)
$(O)/tests/check_agent: | $(AGENT_NATIVE)
$(O)/tests/unit/check_agent.o: CHECK_CFLAGS += -DAGENT_NATIVE_BIN='"$(CURDIR)/$(AGENT_NATIVE)"'

deps:
	$(Q)ci/install-deps.sh

unit: $(UNIT_BINS) $(BIN) $(AGENT_BIN)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) tests/run-unit.sh $(UNIT_BINS)

e2e: $(BIN) $(AGENT_BIN)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) tests/e2e/run.sh

# Installs what it needs first; the sub-makes see the libraries pkg-config finds then.
check: deps
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory docs-check
	$(Q)$(MAKE) --no-print-directory e2e

# libFuzzer targets (clang), each for FUZZ_SECONDS; crashes land in build-fuzz/artifacts/.
FUZZ_SECONDS ?= 60
fuzz:
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# The unit suites, then one end-to-end boot (t_run_networking), under ASan and UBSan.
asan:
	$(Q)$(MAKE) O=build-asan BIN=build-asan/initrd-test CC=clang \
		OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" unit
	$(Q)ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		INITRD_TEST_KEYS="$(CURDIR)/keys" INITRD_TEST_AGENT="$(CURDIR)/build-asan/agent/initrd-test-agent" \
		IT="$(CURDIR)/build-asan/initrd-test" E2E_ONLY=t_run_networking E2E_OUT="$(CURDIR)/build-asan/e2e" \
		INITRD_TEST_ACCEL=$(ACCEL) tests/e2e/run.sh

# The builder on the committed Alpine packages under valgrind: no memory error, no leak.
valgrind: $(BIN)
	$(Q)d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
		valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		./$(BIN) -q build -s scenarios/networking --repo tests/data/alpine-3.19.1 --kernel host \
		--offline --cache-dir "$$d/cache" -o "$$d/initrd.img" && echo "valgrind: the build is clean"

bench: deps
	$(Q)$(MAKE) --no-print-directory $(BIN) $(LIB_builder) $(LIB_expect) $(LIB_common)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) bench/run.sh

# The main job, offline: the committed Alpine 3.19.1 packages and the host's Debian kernel.
demo: deps
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) ./$(BIN) run --repo tests/data/alpine-3.19.1 --kernel host \
		--offline scenarios/networking

# make lint: the format check, cppcheck, shellcheck, clang-tidy with .clang-tidy on the
# compiler's own flags (one stamp per file under $(O)/tidy/, so make -j runs them side by
# side and a second run redoes only what changed), then every tests/lint/*.sh in order.
# Each part fails on any finding; make -k lint reports the findings of all parts.
LINT_DIRS := common builder expect runner src $(wildcard scenario agent) fuzz bench
LINT_C := $(wildcard $(addsuffix /*.c,$(LINT_DIRS)))
LINT_H := $(wildcard $(addsuffix /*.h,$(LINT_DIRS)))
LINT_SH := $(wildcard ci/*.sh tests/*.sh tests/e2e/*.sh tests/lint/*.sh bench/*.sh fuzz/*.sh) .ci/run
LINT_SCRIPTS := $(sort $(wildcard tests/lint/*.sh))
# agent/ (the guest's side, which need not build with the host's flags) gets the format
# check and cppcheck only.
TIDY_SRC := $(filter-out agent/%,$(LINT_C))
TIDY_STAMPS := $(patsubst %.c,$(O)/tidy/%.ok,$(TIDY_SRC))
TIDY_FLAGS := $(ALL_CFLAGS) $(CHECK_CFLAGS)
# Findings in our own headers too, once for each file that includes them.
TIDY_HEADERS := '^(\./)?(common|builder|expect|runner|scenario|src|fuzz|bench)/[^/]*\.h$$'

.PHONY: lint-format lint-cppcheck lint-shell lint-tidy lint-scripts
lint: lint-format lint-cppcheck lint-shell lint-tidy lint-scripts
	@echo "lint: clean"

lint-format:
	$(Q)clang-format --dry-run --Werror $(LINT_C) $(LINT_H) $(wildcard tests/unit/*.[ch])

lint-cppcheck:
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -I. $(LINT_DIRS)

lint-shell:
	$(Q)shellcheck -S warning $(LINT_SH)

lint-tidy: $(TIDY_STAMPS)

# clang-tidy's count of the warnings it hid in system headers is left out of its output.
$(O)/tidy/%.ok: %.c $(LINT_H) .clang-tidy Makefile
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  TIDY    $<")
	$(Q)ok=; if clang-tidy --quiet --header-filter=$(TIDY_HEADERS) $< -- $(TIDY_FLAGS) \
		>$@.log 2>&1; then ok=1; fi; grep -v ' generated\.$$' $@.log; rm -f $@.log; \
		[ -n "$$ok" ] && touch $@

lint-scripts:
	$(Q)status=0; for s in $(LINT_SCRIPTS); do \
		$(if $(Q),echo "  LINT    $$s";) ./$$s || { echo "lint: '$$s' failed" >&2; status=1; }; \
	done; exit $$status

# make install: the binary and the agent, then every FILE=DEST of INSTALL_DATA (0644).
# make uninstall removes exactly those files, then the directories that are left empty.
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/initrd-test
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
EXAMPLE_REPO := tests/data/alpine-3.19.1
install_map = $(foreach f,$(1),$(f)=$(2)$(patsubst $(3)%,%,$(f)))
INSTALL_DATA = $(call install_map,$(wildcard keys/*.pub),$(DATADIR)/keys,keys) \
	$(call install_map,$(sort $(shell git ls-files scenarios 2>/dev/null || find scenarios -type f)),$(DATADIR)/scenarios,scenarios) \
	$(call install_map,$(sort $(shell find $(EXAMPLE_REPO) -type f)),$(DATADIR)/repo/alpine-3.19.1,$(EXAMPLE_REPO)) \
	$(foreach f,README.md $(wildcard docs/*.md docs/*.json),$(f)=$(DOCDIR)/$(notdir $(f))) \
	$(INSTALL_EXTRA)
INSTALL_PROGRAMS = $(BIN)=$(BINDIR)/$(BIN) $(AGENT_BIN)=$(LIBEXECDIR)/initrd-test-agent

install: $(BIN) $(AGENT_BIN) $(INSTALL_DEPS)
	$(Q)for m in $(INSTALL_PROGRAMS); do \
		$(if $(Q),echo "  INSTALL $${m#*=}";) install -D -m 0755 "$${m%%=*}" "$(DESTDIR)$${m#*=}" || exit 1; \
	done
	$(Q)for m in $(INSTALL_DATA); do \
		$(if $(V),echo "  INSTALL $${m#*=}";) install -D -m 0644 "$${m%%=*}" "$(DESTDIR)$${m#*=}" || exit 1; \
	done

uninstall:
	$(Q)for m in $(INSTALL_PROGRAMS) $(INSTALL_DATA); do \
		rm -f "$(DESTDIR)$${m#*=}"; \
		d=$$(dirname "$(DESTDIR)$${m#*=}"); \
		while [ "$$d" != "$(DESTDIR)$(PREFIX)" ] && [ "$$d" != / ] && rmdir "$$d" 2>/dev/null; do \
			d=$$(dirname "$$d"); \
		done; \
	done

# Man pages (docs/man/*.scd, the maintained source) built with scdoc; make check lints them
# with mandoc and runs tests/docs/ (the pages against the program's --help and keyword
# table, the completion, the results schema, action.yml). scdoc opens each section with a
# paragraph macro mandoc calls redundant: only those warnings are left out.
MAN_SRC := $(wildcard docs/man/*.scd)
MAN_PAGES := $(patsubst docs/man/%.scd,$(O)/man/%,$(MAN_SRC))
MANLINT_IGNORE := 'skipping paragraph macro: PP (empty|after (SH|SS))'
DOC_TESTS := $(sort $(wildcard tests/docs/t_*))
.PHONY: man man-lint docs-check
man: $(MAN_PAGES)
$(O)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  SCDOC   $@")
	$(Q)scdoc <$< >$@.tmp && mv $@.tmp $@
man-lint: $(MAN_PAGES)
	$(Q)out=$$(mandoc -Tlint -W warning $(MAN_PAGES) 2>&1 | grep -Ev $(MANLINT_IGNORE)); \
		[ -z "$$out" ] || { echo "$$out" >&2; echo "man-lint: mandoc found the above" >&2; exit 1; }
	@echo "man-lint: $(words $(MAN_PAGES)) pages clean"
docs-check: $(BIN) man-lint
	$(Q)status=0; for t in $(DOC_TESTS); do \
		$(if $(Q),echo "  DOC     $$t";) ./$$t ./$(BIN) || { echo "docs-check: '$$t' failed" >&2; status=1; }; \
	done; exit $$status
INSTALL_DEPS += $(MAN_PAGES)
INSTALL_EXTRA += completion/initrd-test.bash=$(BASHCOMPDIR)/initrd-test \
	completion/_initrd-test=$(ZSHCOMPDIR)/_initrd-test
LINT_SH += completion/initrd-test.bash $(wildcard tests/docs/*.sh) debian/tests/networking
# The Debian package, built from a copy of the tree and linted (ci/deb.sh; DEB_BOOT=1 boots).
.PHONY: deb
deb:
	$(Q)ci/deb.sh
INSTALL_EXTRA += $(foreach p,$(MAN_PAGES),$(p)=$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))

clean:
	rm -rf $(O) build-asan $(BIN)

-include $(shell find $(O) -path '$(O)/arm64' -prune -o -name '*.d' -type f -print 2>/dev/null)
