# SPDX-License-Identifier: MIT
# One non-recursive Makefile for initrd-test. Quiet unless V=1.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/initrd-test
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
WERROR ?= 1
ACCEL ?= tcg
O := build

PKGS := libarchive libcurl libpcre2-8 libcrypto zlib libzstd
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
	-DIT_DATADIR='"$(DATADIR)"' $(OPT) $(WARN) -I. $(PKG_CFLAGS) $(CFLAGS)
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
APP_SRC := $(wildcard src/*.c)
MAIN_SRC := src/main.c
APPLIB_SRC := $(filter-out $(MAIN_SRC),$(APP_SRC))

obj = $(patsubst %.c,$(O)/%.o,$(1))
LIB_OBJS := $(call obj,$(COMMON_SRC) $(BUILDER_SRC) $(EXPECT_SRC) $(RUNNER_SRC) $(APPLIB_SRC))
LIBIT := $(O)/libinitrd-test.a

UNIT_SRC := $(wildcard tests/unit/check_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
UNIT_HELPER_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(call obj,$(UNIT_HELPER_SRC))

BIN := initrd-test

.PHONY: all check unit e2e asan lint fuzz bench install clean demo deps testdata
all: $(BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBIT): $(LIB_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(call obj,$(MAIN_SRC)) $(LIBIT)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBIT) $(LIBS)

$(O)/tests/check_%: $(O)/tests/unit/check_%.o $(UNIT_HELPER_OBJS) $(LIBIT)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(LIBIT) $(CHECK_LIBS) $(LIBS)

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

e2e: $(BIN)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) tests/e2e/run.sh

check: unit e2e

asan:
	$(Q)$(MAKE) O=build-asan CC=clang OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" unit

bench: $(BIN)
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) bench/run.sh

demo: $(BIN)
	$(Q)ci/install-deps.sh
	$(Q)INITRD_TEST_ACCEL=$(ACCEL) ./$(BIN) run scenarios/networking \
		--repo tests/data/alpine-3.19.1 --kernel auto

lint:
	$(Q)clang-format --dry-run --Werror $(wildcard */*.c */*.h tests/unit/*.c)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -I. common builder expect runner src
	$(Q)shellcheck -S warning $(wildcard ci/*.sh tests/*.sh tests/e2e/*.sh bench/*.sh) .ci/run

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/$(BIN)
	install -d $(DESTDIR)$(DATADIR)/keys
	install -m 0644 keys/*.pub $(DESTDIR)$(DATADIR)/keys/

clean:
	rm -rf $(O) build-asan $(BIN)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
