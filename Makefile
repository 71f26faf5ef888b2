# nsvm: `make` builds build/nsvm and the guest payloads under build/.
#
#   make            build everything
#   make run        install missing packages, build, run the demo payload
#   make check      install missing packages, build, run every test suite;
#                   ends with one line "N passed, M failed"
#   make check-qemu run the guest payloads under QEMU TCG and compare
#   make bench      guest instructions per second (and QEMU's time)
#   make deps       install missing Debian packages (tools/deps.sh)
#   make clean

BUILD := build
OBJ := $(BUILD)/obj
CFLAGS := -O2 -g -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE
CPPFLAGS := -Isrc -MMD -MP
LDLIBS := -lZydis

# SANITIZE=1: the same programs built with AddressSanitizer and
# UndefinedBehaviorSanitizer under build/san/ (the guest payloads are
# shared); `make check` runs the suites against both builds.
ifeq ($(SANITIZE),1)
BUILD := build/san
OBJ := $(BUILD)/obj
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
endif

.DEFAULT_GOAL := all
.PHONY: all run check check-qemu bench deps tests clean

include guest/guest.mk

SRCS := $(sort $(wildcard src/*.c src/*/*.c src/*.S src/*/*.S))
OBJS := $(patsubst src/%,$(OBJ)/%.o,$(SRCS))
MAIN_OBJ := $(OBJ)/main.c.o
# Everything but main(): what the test programs link against.
LIB_OBJS := $(filter-out $(MAIN_OBJ),$(OBJS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
DIFF_SRCS := $(sort $(wildcard tests/diff/*.c tests/diff/*.S))
DIFF_OBJS := $(patsubst tests/diff/%,$(BUILD)/tests/diff-obj/%.o,$(DIFF_SRCS))
DIFF_BIN := $(if $(DIFF_SRCS),$(BUILD)/tests/diff)

# Parallel sub-builds unless the caller chose a -j.
NPROC := $(shell nproc 2>/dev/null || echo 2)
SUBMAKE := $(MAKE) --no-print-directory \
	$(if $(findstring j,$(firstword $(filter-out --%,$(MAKEFLAGS)))),,-j$(NPROC))

all: $(BUILD)/nsvm $(GUEST_PAYLOADS)

$(BUILD)/nsvm: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/%.c.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(OBJ)/%.S.o: src/%.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# The demo payload is embedded with .incbin.
$(OBJ)/demo_blob.S.o: $(GUEST_BUILD)/demo.elf

# Each unit test is its own program: its file + every nsvm object but main.
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) \
		$(LDLIBS) -lcmocka

$(BUILD)/tests/diff-obj/%.c.o: tests/diff/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -Itests/diff -c -o $@ $<

$(BUILD)/tests/diff-obj/%.S.o: tests/diff/%.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -Itests/diff -c -o $@ $<

$(BUILD)/tests/diff: $(DIFF_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

tests: $(UNIT_BINS) $(DIFF_BIN)

deps:
	@bash tools/deps.sh

run:
	@bash tools/deps.sh
	@$(SUBMAKE) all
	$(BUILD)/nsvm run

check:
	@bash tools/deps.sh
	@$(SUBMAKE) all tests
	@$(SUBMAKE) SANITIZE=1 all tests
	@$(SUBMAKE) fuzz-build
	@bash tests/check.sh

check-qemu:
	@$(SUBMAKE) all
	@bash tests/check-qemu.sh

bench:
	@$(SUBMAKE) all
	@bash bench/bench.sh

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(DIFF_OBJS:.o=.d) \
	$(patsubst %,%.d,$(UNIT_BINS))

# ---- fuzzing: libFuzzer targets fuzz/fuzz_*.c (clang, with ASan and UBSan),
# built under build/fuzz/.  `make fuzz` runs each for FUZZ_SECONDS (default
# 60); `make check` replays fuzz/corpus/ and fuzz/regressions/ and makes a
# short fixed-seed run of each (fuzz/run.sh).
.PHONY: fuzz fuzz-build
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE \
	-fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_LIB_SRCS := $(filter-out src/main.c src/demo_blob.S,$(SRCS)) \
	$(filter-out fuzz/fuzz_%.c,$(wildcard fuzz/*.c))
FUZZ_LIB_OBJS := $(patsubst %,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_BINS := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz_*.c))

# The interpreter's hot loops without comparison tracing: it would slow
# every guest instruction down threefold.
$(FUZZ_BUILD)/obj/src/x86/%.c.o: FUZZ_COV := -fno-sanitize-coverage=trace-cmp

$(FUZZ_BUILD)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_COV) \
		$(CPPFLAGS) -Ifuzz -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(CPPFLAGS) -Ifuzz -o $@ \
		$< $(FUZZ_LIB_OBJS) $(LDLIBS)

fuzz-build: $(FUZZ_LIB_OBJS) $(FUZZ_BINS)

fuzz:
	@bash tools/deps.sh
	@$(SUBMAKE) fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh --fuzz

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_BINS:=.d)
