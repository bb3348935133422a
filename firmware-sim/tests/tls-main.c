/*
 * Thread-locals in single-threaded firmware, as header-only libraries use them: initialised and zero ones,
 * the C11 and GNU spellings, an over-aligned one, and two defined in another file (tls-other.c), which the
 * compiler reaches through the GOT (the initial-exec model) rather than a constant offset.
 * Every value is checked, then every variable is written and all are checked again, so two variables
 * sharing bytes, or a block not copied or not zeroed at start-up, fails the run.
 */
#include <stdint.h>
#include <string.h>

#include "tlsf_sim.h"

_Thread_local int32_t c11_counter = 1234;
__thread uint16_t gnu_short = 0xBEEF;
_Thread_local uint8_t c11_zero_bytes[13];
__thread uint32_t gnu_zero_word;
_Thread_local uint64_t c11_wide = 0x0123456789ABCDEFull;
_Thread_local int32_t aligned_block[4] __attribute__((aligned(32))) = {5, 6, 7, 8};

extern __thread int32_t other_file_value;
extern _Thread_local char other_file_zero[7];

static int all_zero(const void *bytes, size_t length) {
  const uint8_t *byte = bytes;
  for (size_t i = 0; i < length; i++)
    if (byte[i] != 0) return 0;
  return 1;
}

static void check(int32_t counter, uint32_t word, uint8_t last_byte, int32_t other) {
  TLSF_SIM_ASSERT(c11_counter == counter);
  TLSF_SIM_ASSERT(gnu_short == 0xBEEF);
  TLSF_SIM_ASSERT(all_zero(c11_zero_bytes, sizeof c11_zero_bytes - 1));
  TLSF_SIM_ASSERT(c11_zero_bytes[12] == last_byte);
  TLSF_SIM_ASSERT(gnu_zero_word == word);
  TLSF_SIM_ASSERT(c11_wide == 0x0123456789ABCDEFull);
  TLSF_SIM_ASSERT(aligned_block[0] == 5 && aligned_block[1] == 6 && aligned_block[2] == 7 && aligned_block[3] == 8);
  TLSF_SIM_ASSERT(((uintptr_t)aligned_block & 31u) == 0);
  TLSF_SIM_ASSERT(other_file_value == other);
  TLSF_SIM_ASSERT(all_zero(other_file_zero, sizeof other_file_zero));
}

int main(void) {
  check(1234, 0, 0, -77);
  c11_counter += 2;
  gnu_zero_word = 0xA5A5A5A5u;
  c11_zero_bytes[12] = 9;
  other_file_value += 1;
  check(1236, 0xA5A5A5A5u, 9, -76);
  tlsf_sim_printf("tls: counter=%ld short=0x%x wide=0x%08lx%08lx aligned=%ld..%ld other=%ld zero-word=0x%lx\n",
                  (long)c11_counter, gnu_short, (unsigned long)(c11_wide >> 32), (unsigned long)c11_wide,
                  (long)aligned_block[0], (long)aligned_block[3], (long)other_file_value, (unsigned long)gnu_zero_word);
  return 0;
}
