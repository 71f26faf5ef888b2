/*
 * libguest: the freestanding library every nsvm guest payload is built on.
 *
 * A payload is a multiboot v1 kernel linked at 4 MiB. boot.S enters long
 * mode with an identity map of the first 4 GiB (2 MiB pages, U/S=1 and R/W=1
 * at every level so that run_in_user() can run any code), installs a GDT,
 * a TSS and an IDT, zeroes .bss and calls main(); main's return value is
 * passed to exit().
 *
 * Payloads run with RFLAGS.IF = 0. One that sets IF must first route or
 * mask the interrupt controllers itself: under QEMU the firmware leaves
 * the PIT running on IRQ 0, which the 8259 delivers as vector 8.
 *
 * This header is also included from assembly (__ASSEMBLER__): only the
 * constants below are visible there.
 */
#ifndef LIBGUEST_H
#define LIBGUEST_H

/*
 * GDT layout. The user entries are ordered for SYSCALL/SYSRET:
 *   SYSCALL: CS = STAR[47:32], SS = STAR[47:32] + 8      -> 0x08, 0x10
 *   SYSRET (64-bit): CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, RPL 3
 *                                                        -> 0x2b, 0x23
 * STAR_SELECTORS is the value for STAR[63:32]; a test sets
 * STAR = ((uint64_t)STAR_SELECTORS << 32) | legacy_eip.
 */
#define KERNEL_CS       0x08    /* 64-bit code, DPL 0 */
#define KERNEL_DS       0x10    /* data, DPL 0 */
#define USER_CS32       0x1b    /* 32-bit code, DPL 3 (0x18 | 3) */
#define USER_DS         0x23    /* data, DPL 3 (0x20 | 3) */
#define USER_CS         0x2b    /* 64-bit code, DPL 3 (0x28 | 3) */
#define TSS_SEL         0x30    /* 64-bit TSS, 16 bytes (two slots) */
#define KERNEL_CS32     0x40    /* 32-bit code, DPL 0 (used by the boot stub) */
#define GDT_FIRST_FREE  0x48    /* 0x48..0x78: zero, free for tests */
#define GDT_ENTRIES     16
#define STAR_SELECTORS  ((0x18 << 16) | KERNEL_CS)

/* Vector of the DPL-3 gate that ends run_in_user(). */
#define USER_EXIT_VECTOR 0x7e
/* #DF is delivered on IST1 (its own stack, always mapped). */
#define DF_IST          1

#define DEBUG_EXIT_PORT 0xf4
#define SERIAL_PORT     0x3f8

#define PAYLOAD_BASE    0x400000

#ifndef __ASSEMBLER__

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- console and strings ---------------------------------------------- */

int printf(const char *fmt, ...) PRINTF_LIKE(1, 2);
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) PRINTF_LIKE(3, 4);
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
void serial_putc(char c);
void serial_write(const char *s, size_t n);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Parses an unsigned number (base 0: 0x prefix -> hex, else decimal). */
uint64_t strtou64(const char *s, const char **end, int base);

/* ---- reporting (kvm-unit-tests style lines) ----------------------------- */

void report_pass(const char *name);                        /* PASS: name */
void report_fail(const char *name, const char *fmt, ...)   /* FAIL: name (details) */
	PRINTF_LIKE(2, 3);
void report_skip(const char *name, const char *why);       /* SKIP: name (why) */
void report(bool ok, const char *name);
void report_eq(const char *name, uint64_t got, uint64_t want);
/* SUMMARY: N tests, M unexpected failures, K skipped. Returns M. */
int report_summary(void);
/* Prints "FAIL: panic (msg)" and the summary, then exit(1). */
_Noreturn void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Writes status (255 if outside 0..255) to the debug-exit port, then
 * cli; hlt forever. */
_Noreturn void exit(int status);

/* ---- multiboot --------------------------------------------------------- */

/* The full command line "PATH ARGS" ("" if the loader gave none). */
const char *multiboot_cmdline(void);
uint64_t multiboot_mem_upper_kb(void);  /* 0 if the loader gave none */
/* Finds "key=N" among the words after the first; true if found. */
bool cmdline_get_u64(const char *key, uint64_t *val);

/* ---- exceptions -------------------------------------------------------- */

/*
 * The frame every exception stub builds; handlers may change any field and
 * it is restored by IRETQ (rip, cs, rflags, rsp, ss included). cr2 is
 * CR2 as read on entry (meaningful for #PF); it is not written back.
 */
struct ex_regs {
	uint64_t cr2;
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*ex_handler_t)(struct ex_regs *regs);

/* Installs a handler for a vector; NULL restores the default. */
void set_exception_handler(int vector, ex_handler_t h);

/*
 * Calls fn(arg). If an exception without an installed handler occurs
 * before fn returns, fn is abandoned: the frame is copied to *out (if not
 * NULL) and the vector is returned. Returns -1 if fn returned normally.
 * Nests; works at CPL 0 and CPL 3.
 */
int catch_exception(void (*fn)(void *), void *arg, struct ex_regs *out);

/*
 * Reports name: PASS when vector (as catch_exception or run_in_user
 * returns it) is want_vector and, for an exception, r->error_code is
 * want_error; else FAIL with what was seen and what was wanted.
 */
void report_exception(const char *name, int vector, const struct ex_regs *r,
		      int want_vector, uint64_t want_error);

/*
 * Runs fn(arg) at CPL 3 (USER_CS/USER_DS, RFLAGS = 0x2: IOPL 0, IF 0) on
 * a user stack, and comes back at CPL 0. Returns -1 if fn returned, or the
 * vector of the exception that ended it (frame in *out if not NULL).
 */
int run_in_user(void (*fn)(void *), void *arg, struct ex_regs *out);

/*
 * Exception fixups for single instructions, usable in inline asm:
 *   asm volatile("1: rdmsr\n2:\n" ASM_EXTABLE("1b", "2b") ...);
 * An exception without an installed handler at "1b" resumes at "2b",
 * sets ex_fixup_vector to the vector and ex_fixup_regs to the frame.
 * Set ex_fixup_vector = -1 before (ex_fixup_reset()).
 */
#define ASM_EXTABLE(from, to) \
	".pushsection ex_table, \"a\"\n\t.balign 8\n\t.quad " from ", " to "\n\t.popsection\n\t"
extern volatile int ex_fixup_vector;
extern struct ex_regs ex_fixup_regs;
static inline void ex_fixup_reset(void) { ex_fixup_vector = -1; }

/* IDT: modify the gate of a vector (its default stub stays the target). */
void idt_set_gate_attrs(int vector, int dpl, int ist, bool present);
/* IDT: point a vector's gate at an arbitrary target (DPL 0, IST 0, present). */
void idt_set_target(int vector, uint64_t target);
uint64_t idt_default_target(int vector);

/* Exception vectors. */
enum {
	DE_VECTOR = 0, DB_VECTOR = 1, NMI_VECTOR = 2, BP_VECTOR = 3,
	OF_VECTOR = 4, BR_VECTOR = 5, UD_VECTOR = 6, NM_VECTOR = 7,
	DF_VECTOR = 8, TS_VECTOR = 10, NP_VECTOR = 11, SS_VECTOR = 12,
	GP_VECTOR = 13, PF_VECTOR = 14, MF_VECTOR = 16, AC_VECTOR = 17,
	MC_VECTOR = 18, XM_VECTOR = 19, VE_VECTOR = 20, CP_VECTOR = 21,
	SX_VECTOR = 30,
};

/* #PF error code bits. */
#define PFERR_P     (1u << 0)
#define PFERR_W     (1u << 1)
#define PFERR_U     (1u << 2)
#define PFERR_RSVD  (1u << 3)
#define PFERR_ID    (1u << 4)

/* ---- descriptor tables and TSS ----------------------------------------- */

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];        /* offset 0x04 */
	uint64_t ist[8];        /* offset 0x1c: ist[1]..ist[7]; ist[0] reserved */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};
struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};
extern uint64_t gdt64[GDT_ENTRIES];
extern struct tss64 tss;
/* Writes a 16-byte system descriptor (LDT, TSS) at GDT selector sel. */
void gdt_set_system_desc(uint16_t sel, uint64_t base, uint32_t limit,
			 unsigned type, bool present);

/* ---- memory and paging ------------------------------------------------- */

#define PAGE_SIZE       4096ull
#define LARGE_PAGE_SIZE (2ull << 20)
#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_U    (1ull << 2)
#define PTE_PWT  (1ull << 3)
#define PTE_PCD  (1ull << 4)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_G    (1ull << 8)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

typedef uint64_t pte_t;

/* Zeroed, 4 KiB-aligned physical (= virtual) pages; never freed. */
void *alloc_page(void);
void *alloc_pages(size_t n);

/*
 * Page-table entries of the current CR3 for va. Missing tables are
 * allocated (P|W|U); get_pte splits a 2 MiB page into 512 4 KiB PTEs with
 * the same attributes. Callers that change an entry must invlpg.
 */
pte_t *get_pte(uint64_t va);
pte_t *get_pde(uint64_t va);
void map_page(uint64_t va, uint64_t pa, uint64_t flags);   /* pte = pa|flags */
void unmap_page(uint64_t va);                              /* clears P */
void set_pte_flags(uint64_t va, uint64_t set, uint64_t clear);

/* ---- instructions ------------------------------------------------------ */

static inline void outb(uint8_t v, uint16_t port) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t v, uint16_t port) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint32_t v, uint16_t port) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return lo | ((uint64_t)hi << 32);
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
/* Return -1 on success, else the vector (e.g. GP_VECTOR). */
static inline int rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	ex_fixup_reset();
	asm volatile("1: rdmsr\n2:\n\t" ASM_EXTABLE("1b", "2b")
		     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = lo | ((uint64_t)hi << 32);
	return ex_fixup_vector;
}
static inline int wrmsr_safe(uint32_t msr, uint64_t v)
{
	ex_fixup_reset();
	asm volatile("1: wrmsr\n2:\n\t" ASM_EXTABLE("1b", "2b")
		     :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	return ex_fixup_vector;
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a,
			 uint32_t *b, uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "a"(leaf), "c"(subleaf));
}

#define DEFINE_CR(n) \
	static inline uint64_t read_cr##n(void) \
	{ uint64_t v; asm volatile("mov %%cr" #n ", %0" : "=r"(v) :: "memory"); return v; } \
	static inline void write_cr##n(uint64_t v) \
	{ asm volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
DEFINE_CR(8)
#undef DEFINE_CR

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	asm volatile("pushfq; popq %0" : "=r"(f) :: "memory");
	return f;
}
static inline void write_rflags(uint64_t f)
{
	asm volatile("pushq %0; popfq" :: "r"(f) : "memory", "cc");
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}
static inline uint64_t rdtscp(uint32_t *aux)
{
	uint32_t lo, hi, c;
	asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
	if (aux)
		*aux = c;
	return lo | ((uint64_t)hi << 32);
}
static inline void invlpg(uint64_t va) { asm volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline void flush_tlb(void) { write_cr3(read_cr3()); }
static inline void lgdt(const struct desc_ptr *p) { asm volatile("lgdt %0" :: "m"(*p)); }
static inline void lidt(const struct desc_ptr *p) { asm volatile("lidt %0" :: "m"(*p)); }
static inline void sgdt(struct desc_ptr *p) { asm volatile("sgdt %0" : "=m"(*p)); }
static inline void sidt(struct desc_ptr *p) { asm volatile("sidt %0" : "=m"(*p)); }
static inline uint16_t str(void) { uint16_t s; asm volatile("str %0" : "=r"(s)); return s; }
static inline uint16_t sldt(void) { uint16_t s; asm volatile("sldt %0" : "=r"(s)); return s; }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
static inline void hlt(void) { asm volatile("hlt" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
static inline uint16_t read_cs(void) { uint16_t s; asm volatile("mov %%cs, %0" : "=r"(s)); return s; }
static inline uint16_t read_ss(void) { uint16_t s; asm volatile("mov %%ss, %0" : "=r"(s)); return s; }

/* MSRs used by the library and tests. */
#define MSR_EFER        0xc0000080
#define MSR_STAR        0xc0000081
#define MSR_LSTAR       0xc0000082
#define MSR_CSTAR       0xc0000083
#define MSR_SFMASK      0xc0000084
#define MSR_FS_BASE     0xc0000100
#define MSR_GS_BASE     0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX     0xc0000103
#define MSR_VM_CR       0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define EFER_SCE        (1ull << 0)
#define EFER_LME        (1ull << 8)
#define EFER_LMA        (1ull << 10)
#define EFER_NXE        (1ull << 11)
#define EFER_SVME       (1ull << 12)

#define CR0_PE  (1ull << 0)
#define CR0_MP  (1ull << 1)
#define CR0_EM  (1ull << 2)
#define CR0_TS  (1ull << 3)
#define CR0_ET  (1ull << 4)
#define CR0_NE  (1ull << 5)
#define CR0_WP  (1ull << 16)
#define CR0_AM  (1ull << 18)
#define CR0_NW  (1ull << 29)
#define CR0_CD  (1ull << 30)
#define CR0_PG  (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)

#define RFLAGS_CF (1ull << 0)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_AC (1ull << 18)

#endif /* !__ASSEMBLER__ */
#endif /* LIBGUEST_H */
