/*
 * Startup for tlsf-sim firmware: the vector table, Reset_Handler (copy .data, set up the thread-local
 * block, zero .bss, run constructors, call main, exit through the host with main's return value), the
 * thread pointer, and a HardFault handler that reports the faulting PC through the service page and
 * exits with status 254.
 *
 * Symbols come from ld/common.ld: _estack, _sidata, _sdata, _edata, _sbss, _ebss, the TLS block
 * (__tdata_*, __tbss_*, __tlsf_sim_thread_pointer) and the init/fini array bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsf_sim.h"

extern uint32_t _estack;
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
extern void (*__fini_array_start[])(void);
extern void (*__fini_array_end[])(void);
extern char __tdata_start[], __tdata_source[], __tdata_size[], __tbss_start[], __tbss_size[];

int main(void);

void Reset_Handler(void);
void HardFault_Handler(void);
void Default_Handler(void);
void tlsf_sim_reset_c(void) __attribute__((noreturn, used));
void tlsf_sim_run_fini_array(void);
void *__aeabi_read_tp(void);
void tlsf_sim_hardfault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));

/* Exit status of a run stopped by an unexpected exception. */
#define TLSF_SIM_EXIT_FAULT 254

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*tlsf_sim_vector_t)(void);

/* The 16 architectural entries; no peripheral interrupts are used by tlsf-sim firmware. */
__attribute__((section(".isr_vector"), used)) const tlsf_sim_vector_t tlsf_sim_vectors[16] = {
    (tlsf_sim_vector_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};

/*
 * Sets SP itself, so a loader that jumps to the ELF entry without reading the vector table works too. Code
 * built for the FPU (-mfloat-abi=hard or softfp) first grants CP10 and CP11 full access in CPACR (0xE000ED88):
 * the FPU is off at reset and its first instruction would fault (UsageFault NOCP). This is done here, before
 * any C, because the compiler may put floating-point registers to use in any function.
 */
__attribute__((naked)) void Reset_Handler(void) {
  __asm volatile(
#if defined(__ARM_FP)
      "ldr r0, =0xE000ED88\n"
      "ldr r1, [r0]\n"
      "orr r1, r1, #(0xF << 20)\n"
      "str r1, [r0]\n"
      "dsb\n"
      "isb\n"
#endif
      "ldr r0, =_estack\n"
      "mov sp, r0\n"
      "bl tlsf_sim_reset_c\n"
      ".ltorg\n");
}

void tlsf_sim_reset_c(void) {
  /* Word copies: the linker script keeps .data and .bss 4-aligned at both ends. */
  uint32_t *src = &_sidata;
  for (uint32_t *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  /* The one thread's TLS block; sizes are link-time symbols, so the copy needs no alignment assumptions. */
  memcpy(__tdata_start, __tdata_source, (size_t)__tdata_size);
  memset(__tbss_start, 0, (size_t)__tbss_size);

  size_t count = (size_t)(__preinit_array_end - __preinit_array_start);
  for (size_t i = 0; i < count; i++) __preinit_array_start[i]();
  count = (size_t)(__init_array_end - __init_array_start);
  for (size_t i = 0; i < count; i++) __init_array_start[i]();

  /* newlib's exit() flushes stdio before calling _exit, which ends the run through the host. */
  exit(main());
}

/*
 * Static destructors and __attribute__((destructor)) functions, last first. newlib's exit() runs atexit
 * handlers (C++ static objects register theirs there) but not .fini_array, so _exit() calls this;
 * picolibc's exit() runs .fini_array itself.
 */
void tlsf_sim_run_fini_array(void) {
  for (size_t i = (size_t)(__fini_array_end - __fini_array_start); i > 0; i--) __fini_array_start[i - 1]();
}

/*
 * The ARM EABI's thread pointer for the one TLS block (ld/common.ld computes it). Naked, because callers
 * may assume only r0 changes; the value is a link-time constant.
 */
__attribute__((naked)) void *__aeabi_read_tp(void) {
  __asm volatile(
      "ldr r0, =__tlsf_sim_thread_pointer\n"
      "bx lr\n"
      ".ltorg\n");
}

/* Picks the stack the exception frame went to (bit 2 of EXC_RETURN), as ARMv6-M allows. */
__attribute__((naked)) void HardFault_Handler(void) {
  __asm volatile(
      "mov r1, lr\n"
      "movs r2, #4\n"
      "tst r1, r2\n"
      "beq 1f\n"
      "mrs r0, psp\n"
      "b 2f\n"
      "1:\n"
      "mrs r0, msp\n"
      "2:\n"
      "bl tlsf_sim_hardfault_report\n");
}

static char *append_text(char *out, const char *text) {
  while (*text) *out++ = *text++;
  return out;
}

static char *append_hex(char *out, uint32_t value) {
  static const char digits[] = "0123456789abcdef";
  *out++ = '0';
  *out++ = 'x';
  for (int shift = 28; shift >= 0; shift -= 4) *out++ = digits[(value >> shift) & 15u];
  return out;
}

/* Formats by hand: the fault may have come from inside the C library or with a broken heap. */
void tlsf_sim_hardfault_report(const uint32_t *frame, uint32_t exc_return) {
  char line[96];
  char *out = append_text(line, "HardFault: pc=");
  out = append_hex(out, frame[6]);
  out = append_text(out, " lr=");
  out = append_hex(out, frame[5]);
  out = append_text(out, " exc_return=");
  out = append_hex(out, exc_return);
  *out++ = '\n';
  tlsf_sim_write(line, (size_t)(out - line));
  tlsf_sim_exit(TLSF_SIM_EXIT_FAULT);
}

/* crti/crtn are not linked (-nostartfiles); newlib's __libc_init_array / __libc_fini_array call these. */
void _init(void) {}
void _fini(void) {}

void Default_Handler(void) {
  static const char message[] = "unexpected exception: no handler installed\n";
  tlsf_sim_write(message, sizeof message - 1);
  tlsf_sim_exit(TLSF_SIM_EXIT_FAULT);
}
