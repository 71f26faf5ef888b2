/* The KVM paravirtual interface L0 offers L1: hypercall numbers and the
 * CPUID leaves that announce the hypervisor (Linux
 * Documentation/virt/kvm/x86/hypercalls.rst and cpuid.rst). */
#ifndef NSVM_HV_HYPERCALL_H
#define NSVM_HV_HYPERCALL_H

#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_MMU_OP         2
#define KVM_HC_FEATURES       3
#define KVM_HC_PPC_MAP_MAGIC_PAGE 4
#define KVM_HC_KICK_CPU       5
#define KVM_HC_CLOCK_PAIRING  9
#define KVM_HC_SEND_IPI       10
#define KVM_HC_SCHED_YIELD    11
#define KVM_HC_MAP_GPA_RANGE  12

/* CPUID 0x40000000: EAX the highest hypervisor leaf, EBX ECX EDX the
 * signature "KVMKVMKVM\0\0\0"; 0x40000001 EAX: KVM_FEATURE_* bits. */
#define KVM_CPUID_SIGNATURE   0x40000000u
#define KVM_CPUID_FEATURES    0x40000001u
#define KVM_FEATURE_PV_SCHED_YIELD (1u << 13)

/* CPUID 1 ECX bit 31: running under a hypervisor. */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

#endif
