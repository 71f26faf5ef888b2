/* Unit tests: nested paging (APM vol. 2, 15.25).
 *
 * The guest keeps the host's identity page tables (guest-physical =
 * PT_BASE...); the nested table at NPT_BASE maps guest-physical 0-2 MiB to
 * host-physical with 4 KiB pages, P|RW|US.  Each test breaks one nested
 * entry and checks #VMEXIT(NPF): EXITINFO1 = #PF-style error code (P for
 * a protection fault, RW for a write, US always, RSVD, ID for a fetch)
 * plus bit 32 for the final guest-physical address or bit 33 for an
 * access to a guest page table (a user write), EXITINFO2 = the faulting
 * guest-physical address, NRIP 0. */
#include "svm_fixture.h"

#define NPT_PT (NPT_BASE + 0x3000u)
#define GUEST_PT (PT_BASE + 0x3000u)   /* the guest's last-level table */
#define NPF_FINAL (1ull << 32)
#define NPF_WALK  (1ull << 33)

static uint64_t *npte(struct fixture *f, uint64_t gpa)
{
    return (uint64_t *)(f->ram + NPT_PT) + (gpa >> 12);
}

/* The nested table, and NP on in the VMCB. */
static void npt_build(struct fixture *f)
{
    uint64_t *pml4 = (uint64_t *)(f->ram + NPT_BASE);
    pml4[0] = (NPT_BASE + 0x1000) | 7;
    pml4[512] = (NPT_BASE + 0x2000) | 7;         /* PDPT[0] */
    pml4[1024] = NPT_PT | 7;                     /* PD[0] */
    for (uint64_t i = 0; i < 512; i++)
        pml4[1536 + i] = (i << 12) | 7;
    struct vmcb *v = test_vmcb(f);
    v->control.misc_ctl = MISC_CTL_NP_ENABLE;
    v->control.nested_cr3 = NPT_BASE;
}

static int npt_setup(void **state)
{
    if (svm_setup(state))
        return -1;
    npt_build(*state);
    return 0;
}

static void assert_npf(struct fixture *f, uint64_t info1, uint64_t gpa)
{
    const struct vmcb *v = test_vmcb(f);
    assert_false(f->cpu.svm.guest_mode);
    assert_int_equal(v->control.exit_code, SVM_EXIT_NPF);
    assert_int_equal(v->control.exit_info_1, info1);
    assert_int_equal(v->control.exit_info_2, gpa);
    assert_int_equal(v->control.next_rip, 0);
    assert_int_equal(v->save.rip, GUEST_RIP);
}

static int guest_read(struct cpu *cpu, uint64_t gpa)
{
    cpu->gpr[RBX] = gpa;
    return GUEST(cpu, 0x8b, 0x03);   /* mov eax, [rbx] */
}

static int guest_write(struct cpu *cpu, uint64_t gpa)
{
    cpu->gpr[RBX] = gpa;
    return GUEST(cpu, 0x89, 0x03);   /* mov [rbx], eax */
}

static void test_final_not_present(void **state)
{
    struct fixture *f = *state;
    *npte(f, 0x60000) = 0;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(guest_read(&f->cpu, 0x60010), -1);
    assert_npf(f, PFERR_U | NPF_FINAL, 0x60010);
}

static void test_final_read_only(void **state)
{
    struct fixture *f = *state;
    *npte(f, 0x61000) &= ~2ull;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(guest_write(&f->cpu, 0x61008), -1);
    assert_npf(f, PFERR_P | PFERR_W | PFERR_U | NPF_FINAL, 0x61008);
}

/* A supervisor-only nested entry faults: nested accesses are user ones. */
static void test_final_supervisor_only(void **state)
{
    struct fixture *f = *state;
    *npte(f, 0x62000) &= ~4ull;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(guest_read(&f->cpu, 0x62000), -1);
    assert_npf(f, PFERR_P | PFERR_U | NPF_FINAL, 0x62000);
}

/* The guest's page table itself is not mapped: bit 33, a user write,
 * EXITINFO2 = the guest-physical address of the guest's PTE. */
static void test_guest_table_not_present(void **state)
{
    struct fixture *f = *state;
    *npte(f, GUEST_PT) = 0;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(guest_read(&f->cpu, 0x63000), -1);
    assert_npf(f, PFERR_W | PFERR_U | NPF_WALK, GUEST_PT + 0x63 * 8);
}

/* A reserved bit (above the physical address width) in a nested PDE: the
 * first nested walk, for the guest's PML4 entry, faults. */
static void test_reserved_bit(void **state)
{
    struct fixture *f = *state;
    uint64_t *pd = (uint64_t *)(f->ram + NPT_BASE + 0x2000);
    pd[0] |= 1ull << 50;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(guest_read(&f->cpu, 0x64000), -1);
    assert_npf(f, PFERR_P | PFERR_W | PFERR_U | PFERR_RSVD | NPF_WALK, PT_BASE);
}

/* A fetch from a nested NX page, with the host's EFER.NXE set. */
static void test_final_nx_fetch(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->efer |= EFER_NXE;
    vmcb_valid(f);
    npt_build(f);
    *npte(f, GUEST_RIP) |= 1ull << 63;
    assert_int_equal(vmrun(cpu), -1);
    cpu->fault_jmp_valid = true;
    if (setjmp(cpu->fault_jmp) == 0)
        x86_translate(cpu, GUEST_RIP, ACC_FETCH);
    cpu->fault_jmp_valid = false;
    assert_npf(f, PFERR_P | PFERR_U | PFERR_I | NPF_FINAL, GUEST_RIP);
}

/* A translation that works: a remapped page, nested A and D bits. */
static void test_translation_and_ad_bits(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    *npte(f, 0x65000) = 0x70000 | 7;   /* gpa 0x65000 -> hpa 0x70000 */
    wr(f, 0x70010, 4, 0xfeedbeef);
    assert_int_equal(vmrun(cpu), -1);
    assert_int_equal(guest_read(cpu, 0x65010), -1);
    assert_int_equal((uint32_t)cpu->gpr[RAX], 0xfeedbeef);
    assert_int_equal(*npte(f, 0x65000) & 0x60, 0x20);   /* A, not D */
    cpu->gpr[RAX] = 0x12345678;
    assert_int_equal(guest_write(cpu, 0x66000), -1);
    assert_int_equal(*npte(f, 0x66000) & 0x60, 0x60);   /* A and D */
    assert_int_equal(rd(f, 0x66000, 4), 0x12345678);
    assert_true(cpu->svm.guest_mode);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_final_not_present, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_read_only, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_supervisor_only, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_table_not_present, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_bit, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_nx_fetch, npt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_translation_and_ad_bits, npt_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
