/* The CPU state at a multiboot entry point (multiboot spec 3.2, "Machine
 * state"): 32-bit protected mode with flat 4 GiB code and data segments,
 * paging off, interrupts off, EAX = 0x2BADB002, EBX = the information
 * structure.  GDTR and IDTR are left as they are: the kernel must load its
 * own before it reloads a segment register or enables interrupts. */
#include "boot/multiboot.h"

#include "x86/cpu.h"

/* Selectors as QEMU's multiboot option ROM leaves them. */
#define MB_CODE_SEL 0x10
#define MB_DATA_SEL 0x18

/* type 0xb: execute/read, accessed; type 0x3: read/write, accessed. */
#define ATTR_CODE32 (0xb | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DATA32 (0x3 | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)

static void flat_segment(struct x86_seg *s, uint16_t sel, uint16_t attrib)
{
    s->sel = sel;
    s->attrib = attrib;
    s->limit = 0xffffffffu;
    s->base = 0;
}

void multiboot_enter(struct cpu *cpu, const struct mb_image *img)
{
    for (int i = SEG_ES; i <= SEG_GS; i++) {
        if (i == SEG_CS)
            flat_segment(&cpu->seg[i], MB_CODE_SEL, ATTR_CODE32);
        else
            flat_segment(&cpu->seg[i], MB_DATA_SEL, ATTR_DATA32);
        cpu->seg_lin_base[i] = 0;
    }
    cpu->seg_lin_base[SEG_NONE] = 0;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->cr4 = 0;
    cpu->efer = 0;
    cpu->cpl = 0;
    x86_set_rflags(cpu, FLAGS_FIXED1);   /* IF = 0, DF = 0 */
    for (int r = RAX; r <= R15; r++)
        cpu->gpr[r] = 0;
    cpu->gpr[RAX] = MB_BOOT_MAGIC;
    cpu->gpr[RBX] = img->info_addr;
    cpu->rip = img->entry;
    cpu->next_rip = img->entry;
    cpu->halted = false;
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
}
