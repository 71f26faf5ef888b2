#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/<target>/ (run from the
repository root: python3 fuzz/seeds.py).  The corpus also holds inputs the
fuzzers found (named by their SHA-1, as libFuzzer names them); this script
only adds or rewrites the seed-*.bin files."""
import os
import struct

MB_MAGIC = 0x1BADB002

# x86-64 snippets (hand-assembled).
VMRUN = bytes.fromhex('0f01d8')
VMMCALL = bytes.fromhex('0f01d9')
CPUID = bytes.fromhex('0fa2')
HLT = b'\xf4'


def l1(flags, code):
    """fuzz_l1_code: flags byte (fuzz/harness.h FM_*, bit 4 nested), code."""
    return bytes([flags]) + code


def l2(flags=0, intercepts=b'', patches=(), code=b''):
    """The L2 targets' format (fuzz/l2_input.h)."""
    icpt = intercepts.ljust(24, b'\0')
    return (bytes([flags | len(patches) << 4]) + icpt +
            b''.join(struct.pack('<HB', o, v) for o, v in patches) + code)


def icpt_bits(*bits):
    words = [0] * 6
    for b in bits:
        words[b // 32] |= 1 << (b % 32)
    return struct.pack('<6I', *words)


# Intercept bit numbers (APM appendix B, src/svm/vmcb.h).
CR0_READ, CR0_WRITE, CR3_WRITE = 0, 16, 19
EXC = 64                       # + vector
INTR, NMI, SMI, INIT, VINTR = 96, 97, 98, 99, 100
RDTSC, RDPMC, PUSHF, POPF, CPUID_B, RSM, IRET, INTN, INVD, PAUSE = \
    110, 111, 112, 113, 114, 115, 116, 117, 118, 119
HLT_B, INVLPG, INVLPGA, IOIO, MSR, TASK, FERR, SHUTDOWN = \
    120, 121, 122, 123, 124, 125, 126, 127
VMRUN_B, VMMCALL_B, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, RDTSCP = \
    128, 129, 130, 131, 132, 133, 134, 135
# vmcb offsets
EVENTINJ, NCR3, ASID, TLB_CTL, SAVE = 0xa8, 0xb0, 0x58, 0x5c, 0x400
# int_ctl (0x60) by byte: 0x61 V_IRQ bit 0, V_GIF bit 1, V_NMI_PENDING bit 3,
# V_NMI_BLOCKING bit 4; 0x62 V_INTR_PRIO 3:0, V_IGN_TPR bit 4; 0x63
# V_INTR_MASKING bit 0, V_GIF_ENABLE bit 1, V_NMI_ENABLE bit 2
INT_CTL, INT_VECTOR, INT_STATE = 0x60, 0x64, 0x68
# STI; NOPs; CLI; STGI; CLGI; STI; NOP; HLT
WINDOWS = bytes.fromhex('fb 909090909090 fa 0f01dc 0f01dd fb 90 f4')

L1_SEEDS = {
    'nops': l1(0, b'\x90' * 8),
    'vmrun': l1(0, VMRUN + VMMCALL),
    'vmrun-nested': l1(0x10, VMRUN + VMMCALL),
    'cpuid-nested': l1(0x10, CPUID + bytes.fromhex('b90000008c 0f32 0f30')),
    'msr': l1(0, bytes.fromhex('b9800000c0 0f32 0f30 b9830100c0 0f32')),
    'io': l1(0x10, bytes.fromhex('ba f803 0000 ec ee 66ed e4f4')),
    'int3-user': l1(0x01, bytes.fromhex('cc cd80 0f05')),
    'compat': l1(0x02, bytes.fromhex('b801000000 0fa2 cd03')),
    'no-svme': l1(0x04, VMRUN + bytes.fromhex('0f01da 0f01db 0f01dc')),
    'gates-in-code': l1(0x08, bytes.fromhex('0f0b 48cf') + b'\x90' * 30),
    'rep-movs': l1(0, bytes.fromhex('48c7c100100000 48c7c600001000 '
                                    '48c7c700201000 f3a4')),
    'smc': l1(0, bytes.fromhex('c6050000000090 90 ebf6')),
    'cr': l1(0x10, bytes.fromhex('0f20c0 0f22c0 0f20e0 0f22e0 0f20d8 0f22d8')),
    'vmload-vmsave': l1(0x10, bytes.fromhex('0f01da 0f01db 0f01dc 0f01dd 0f01df')),
}

L2_SEEDS = {
    'empty': l2(),
    'vmmcall': l2(code=VMMCALL),
    'vmmcall-not-intercepted': l2(intercepts=icpt_bits(VMMCALL_B), code=VMMCALL),
    'cpuid': l2(intercepts=icpt_bits(CPUID_B), code=CPUID * 3),
    'npt': l2(flags=2, code=bytes.fromhex('c6042500000100aa') + VMMCALL),
    'npt-ncr3': l2(flags=2, patches=[(NCR3 + 1, 0x10)], code=CPUID),
    'user': l2(flags=1, code=CPUID + VMMCALL),
    'ioio': l2(flags=4, intercepts=icpt_bits(IOIO),
               code=bytes.fromhex('e680 ec 66ed f36c') + VMMCALL),
    'msr': l2(flags=8, intercepts=icpt_bits(MSR),
              code=bytes.fromhex('b9800000c0 0f32 0f30')),
    'exceptions': l2(intercepts=icpt_bits(*range(EXC, EXC + 32)),
                     code=bytes.fromhex('0f0b cc 31c0 f7f0')),
    'ud-not-intercepted': l2(code=bytes.fromhex('0f0b')),
    'eventinj': l2(patches=[(EVENTINJ, 0x0d), (EVENTINJ + 1, 0x0b),
                            (EVENTINJ + 3, 0x80)], code=VMMCALL),
    'cr-intercepts': l2(intercepts=icpt_bits(CR0_READ, CR0_WRITE, CR3_WRITE),
                        code=bytes.fromhex('0f20c0 0f22c0 0f20d8 0f22d8')),
    'svm-insns': l2(intercepts=icpt_bits(VMLOAD, VMSAVE, STGI, CLGI),
                    code=bytes.fromhex('0f01da 0f01db 0f01dc 0f01dd 0f01df')),
    'svm-insns-passed': l2(code=bytes.fromhex('48c7c000500100 0f01da 0f01db '
                                             '0f01dc 0f01dd')),
    'nested-vmrun': l2(code=bytes.fromhex('48c7c000500100') + VMRUN),
    'asid-zero': l2(patches=[(ASID, 1)], code=CPUID),
    'tlb-ctl': l2(patches=[(TLB_CTL, 3)], code=bytes.fromhex('0f0100') + CPUID),
    'triple-fault': l2(patches=[(SAVE + 0x80 + 4, 0xff)],   # IDTR limit
                       code=bytes.fromhex('0f0b')),
    'intn-iret': l2(intercepts=icpt_bits(INTN, IRET, PUSHF, POPF, RDTSC),
                    code=bytes.fromhex('cd03 9c 9d 0f31 48cf')),
    'virq': l2(patches=[(INT_CTL + 1, 1), (INT_CTL + 2, 0x13),
                        (INT_VECTOR, 0x40)], code=WINDOWS),
    'virq-vintr': l2(intercepts=icpt_bits(VINTR),
                     patches=[(INT_CTL + 1, 1), (INT_CTL + 2, 0x10),
                              (INT_VECTOR, 0x40)], code=WINDOWS),
    'virq-masking': l2(patches=[(INT_CTL + 1, 1), (INT_CTL + 2, 5),
                                (INT_CTL, 3), (INT_CTL + 3, 1),
                                (INT_VECTOR, 0x41)],
                       code=bytes.fromhex('b801000000 440f22c0 fb 9090')),
    'vgif': l2(patches=[(INT_CTL + 1, 1), (INT_CTL + 2, 0x10),
                        (INT_CTL + 3, 2), (INT_VECTOR, 0x42)], code=WINDOWS),
    'vnmi': l2(patches=[(INT_CTL + 1, 8), (INT_CTL + 3, 4)],
               code=bytes.fromhex('9090 cf 90')),
    'vnmi-vgif': l2(patches=[(INT_CTL + 1, 0x0a), (INT_CTL + 3, 6)],
                    code=bytes.fromhex('0f01dd 0f01dc 9090')),
    'int-shadow': l2(patches=[(INT_CTL + 1, 1), (INT_CTL + 2, 0x10),
                              (INT_STATE, 1)], code=WINDOWS),
}


def elf32(entry, segments, header_at=0x54):
    """A minimal ELF32 i386 executable: (paddr, bytes) segments, the file
    holding the multiboot header right after the program headers."""
    n = len(segments)
    phoff = 52
    data_off = phoff + 32 * n
    ehdr = b'\x7fELF' + bytes([1, 1, 1]) + b'\0' * 9
    ehdr += struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, entry, phoff, 0, 0,
                        52, 32, n, 40, 0, 0)
    phdrs, body, off = b'', b'', data_off
    for paddr, blob in segments:
        phdrs += struct.pack('<8I', 1, off, paddr, paddr, len(blob),
                             len(blob), 7, 0x1000)
        body += blob
        off += len(blob)
    return ehdr + phdrs + body


def mb_header(flags, extra=b''):
    return struct.pack('<3I', MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xffffffff) + extra


def loader_seeds():
    code32 = bytes.fromhex('b000 e6f4 f4')        # mov al,0; out 0xf4,al; hlt
    hdr = mb_header(0)
    seg = hdr + code32
    seeds = {
        'elf-minimal': elf32(0x100000 + len(hdr), [(0x100000, seg)]),
        'elf-two-segments': elf32(0x100000 + len(hdr),
                                  [(0x100000, seg), (0x200000, b'\xaa' * 64)]),
        'elf-bad-checksum': elf32(0x10000c, [(0x100000, struct.pack(
            '<3I', MB_MAGIC, 0, 0) + code32)]),
        'elf-meminfo': elf32(0x10000c, [(0x100000, mb_header(2) + code32)]),
    }
    # The address form (flags bit 16): header, load, load_end, bss_end, entry.
    load = 0x100000
    addr = struct.pack('<5I', load, load, 0, load + 0x2000, load + 32)
    img = mb_header(1 << 16, addr).ljust(32, b'\0') + code32
    seeds['aout-kludge'] = img
    return seeds


def write(target, seeds):
    d = os.path.join('fuzz', 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for name, blob in seeds.items():
        with open(os.path.join(d, 'seed-' + name + '.bin'), 'wb') as f:
            f.write(blob)


def main():
    write('l1_code', L1_SEEDS)
    for t in ('l2_code', 'vmcb12', 'nested_diff'):
        write(t, L2_SEEDS)
    write('loader', loader_seeds())


if __name__ == '__main__':
    main()
