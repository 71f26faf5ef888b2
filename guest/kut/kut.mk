# guest/kut/kut.mk (included by guest/guest.mk): kut_boot, a kernel of the
# kvm-unit-tests kind built without guest/lib and linked by guest/kut/kut.lds
# (4 MiB, a BSS the loader zeroes, a second segment at 16 MiB).  It goes to
# build/guest/tests/kut_boot.elf so that the payload suites run it, with the
# command line of tests/expect/kut_boot.append.

KUT_SRCS := $(wildcard guest/kut/*.c guest/kut/*.S)
KUT_OBJS := $(patsubst guest/%,$(GUEST_BUILD)/%.o,$(KUT_SRCS))

$(GUEST_BUILD)/tests/kut_boot.elf64: $(KUT_OBJS) guest/kut/kut.lds
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -nostdlib -static -no-pie \
		-Wl,-T,guest/kut/kut.lds -Wl,--build-id=none \
		-Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -o $@ $(KUT_OBJS)

GUEST_TESTS += $(GUEST_BUILD)/tests/kut_boot.elf
GUEST_PAYLOADS += $(GUEST_BUILD)/tests/kut_boot.elf
