/*
 * workload: the three kinds of guest work the engine benchmark compares with QEMU (issue 14), chosen by
 * the `kind` parameter, repeated `count` times:
 *
 *   kind 1  integer loop: a linear congruential step per iteration, registers only
 *   kind 2  malloc/free churn: each iteration allocates a block of 32..284 bytes, writes every word of
 *           it, and frees the block allocated 8 iterations earlier after checking its first and last words
 *   kind 3  word stores: one 32-bit store per iteration into a 4 KiB buffer
 *   kind 4  not a workload: calls into a RAM buffer holding `bx lr`, which tlsf-sim reports as a fetch from
 *           non-executable RAM (this image puts no code in RAM)
 *
 * The same source is built twice (Makefile): for a tlsf-sim board, where parameters are patched into the
 * firmware's parameter block and malloc is the host's TLSF heap; and for QEMU's mps2-an386 (BENCH_QEMU),
 * where parameters come from the semihosting command line and malloc is newlib's. Only the work between
 * the two parameter reads and the final line of output is meant to be compared.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef BENCH_QEMU
#include "qemu-runtime.h"
#define PARAM(ident, default_value) bench_param(#ident, (default_value))
#else
#include "tlsf_sim.h"
TLSF_SIM_PARAM(kind, 1);
TLSF_SIM_PARAM(count, 1000000);
#define PARAM(ident, default_value) TLSF_SIM_PARAM_GET(ident)
#endif

enum { RING = 8, STORE_WORDS = 1024 };

static volatile uint32_t store_buffer[STORE_WORDS];

static uint32_t integer_loop(int32_t count) {
  uint32_t x = 1;
  for (int32_t i = count; i > 0; i--) x = x * 1664525u + 1013904223u;
  return x;
}

static uint32_t churn(int32_t count) {
  uint32_t *ring[RING] = {0};
  uint32_t words[RING] = {0};
  uint32_t sum = 0;
  uint32_t seed = 12345;
  for (int32_t i = 0; i < count; i++) {
    unsigned slot = (unsigned)i % RING;
    if (ring[slot]) {
      uint32_t *old = ring[slot];
      sum += old[0] + old[words[slot] - 1];
      free(old);
    }
    seed = seed * 1664525u + 1013904223u;
    uint32_t n = 8u + (seed >> 26);
    uint32_t *block = (uint32_t *)malloc(n * 4u);
    if (!block) return 0xdeadbeefu;
    for (uint32_t w = 0; w < n; w++) block[w] = (uint32_t)i + w;
    ring[slot] = block;
    words[slot] = n;
  }
  for (unsigned slot = 0; slot < RING; slot++) free(ring[slot]);
  return sum;
}

static uint32_t stores(int32_t count) {
  for (int32_t i = 0; i < count; i++) store_buffer[(uint32_t)i & (STORE_WORDS - 1)] = (uint32_t)i;
  return store_buffer[0] ^ store_buffer[STORE_WORDS - 1];
}

static uint16_t ram_code[2];

static uint32_t call_ram(void) {
  ram_code[0] = 0x4770; /* bx lr */
  ((void (*)(void))((uintptr_t)ram_code | 1u))();
  return 0;
}

static void put_line(const char *label, uint32_t value) {
  static const char digits[] = "0123456789abcdef";
  char line[48];
  unsigned at = 0;
  while (*label && at < 32) line[at++] = *label++;
  line[at++] = ' ';
  for (int shift = 28; shift >= 0; shift -= 4) line[at++] = digits[(value >> shift) & 15u];
  line[at++] = '\n';
  write(1, line, at);
}

int main(void) {
  int32_t kind = PARAM(kind, 1);
  int32_t count = PARAM(count, 1000000);
  uint32_t result;
  switch (kind) {
  case 1: result = integer_loop(count); break;
  case 2: result = churn(count); break;
  case 3: result = stores(count); break;
  case 4: result = call_ram(); break;
  default:
    put_line("workload: unknown kind", (uint32_t)kind);
    return 2;
  }
  put_line(kind == 1 ? "integer" : kind == 2 ? "churn" : kind == 3 ? "stores" : "ram call", result);
  return result == 0xdeadbeefu ? 1 : 0;
}
