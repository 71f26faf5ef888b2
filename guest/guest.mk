# guest/guest.mk: builds the guest payloads (included by the top Makefile).
#
#   build/guest/libguest.a          the freestanding library (guest/lib)
#   build/guest/tests/NAME.elf      one per guest/tests/NAME.c (+ NAME.S)
#   build/guest/demo.elf            guest/demo/demo.c
#   build/guest/bench/compute.elf   guest/bench/compute.c
#   build/guest/bench/worldswitch.elf  guest/bench/worldswitch.c
#   build/guest/bench/hv_hypercall.elf guest/bench/hv_hypercall.c (L1 -> L0)
#   build/guest/bench/hv_udexit.elf    guest/bench/hv_udexit.c (L2 #UD -> L1)
#
# Payloads are linked as ELF64 at 4 MiB (NAME.elf64, kept for debugging)
# and wrapped as ELF32 (NAME.elf) so that multiboot loaders accept them.
# `make -f guest/guest.mk guest` builds them without the top Makefile.

_guest_saved_goal := $(.DEFAULT_GOAL)

GUEST_CC ?= gcc
GUEST_AR ?= ar
GUEST_OBJCOPY ?= objcopy
GUEST_BUILD := build/guest
GUEST_CFLAGS := -m64 -std=gnu11 -ffreestanding -fno-pic -fno-pie \
	-mno-sse -mno-sse2 -mno-mmx -mno-80387 -mno-red-zone -mcmodel=small \
	-O2 -g -Wall -Wextra -Werror -nostdlib -fno-stack-protector -fno-builtin \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
	-fno-strict-aliasing -Iguest/lib -Isrc/svm -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/lib/payload.ld \
	-Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack \
	-Wl,-u,_start

GUEST_LIB_SRCS := $(wildcard guest/lib/*.c) $(wildcard guest/lib/*.S)
GUEST_LIB_OBJS := $(patsubst guest/lib/%,$(GUEST_BUILD)/lib/%.o,$(GUEST_LIB_SRCS))
GUEST_LIB := $(GUEST_BUILD)/libguest.a

GUEST_TEST_NAMES := $(sort $(basename $(notdir $(wildcard guest/tests/*.c))))
GUEST_TESTS := $(patsubst %,$(GUEST_BUILD)/tests/%.elf,$(GUEST_TEST_NAMES))
GUEST_PAYLOADS := $(GUEST_TESTS) $(GUEST_BUILD)/demo.elf \
	$(GUEST_BUILD)/bench/compute.elf $(GUEST_BUILD)/bench/worldswitch.elf \
	$(GUEST_BUILD)/bench/hv_hypercall.elf $(GUEST_BUILD)/bench/hv_udexit.elf
# kut_boot, a kernel of the kvm-unit-tests kind (guest/kut/)
include guest/kut/kut.mk
export GUEST_PAYLOADS GUEST_TESTS

.PHONY: guest guest-clean
guest: $(GUEST_PAYLOADS)

guest-clean:
	rm -rf $(GUEST_BUILD)

$(GUEST_BUILD)/%.c.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_BUILD)/%.S.o: guest/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_LIB): $(GUEST_LIB_OBJS)
	@rm -f $@
	$(GUEST_AR) rcs $@ $^

# A payload: its own objects (NAME.c and, if present, NAME.S) + libguest.a.
guest_objs_of = $(patsubst guest/%,$(GUEST_BUILD)/%.o,$(wildcard guest/$(1).c guest/$(1).S))

.SECONDEXPANSION:
$(GUEST_BUILD)/%.elf64: $$(call guest_objs_of,%) $(GUEST_LIB) guest/lib/payload.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ \
		$(call guest_objs_of,$*) $(GUEST_LIB)

$(GUEST_BUILD)/%.elf: $(GUEST_BUILD)/%.elf64
	$(GUEST_OBJCOPY) -O elf32-i386 $< $@

# demo.elf is built from guest/demo/demo.c
$(GUEST_BUILD)/demo.elf64: $(GUEST_BUILD)/demo/demo.c.o $(GUEST_LIB) guest/lib/payload.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB)

.PRECIOUS: $(GUEST_BUILD)/%.elf64 $(GUEST_BUILD)/%.c.o $(GUEST_BUILD)/%.S.o

-include $(shell find $(GUEST_BUILD) -name '*.d' 2>/dev/null)

.DEFAULT_GOAL := $(_guest_saved_goal)
