/*
 * Stack depth: a recursive decoder-like walk, `levels` deep, each level with a 96-byte buffer of its own
 * and a heap block it holds until it returns. About 6 KiB of stack at the default 56 levels: it overflows
 * the default 4 KiB stack (result stack-overflow, not heap corruption) and passes with `--stack 8K`;
 * `--param levels=100000` recurses until the stack runs out whatever its size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tlsf_sim.h"

TLSF_SIM_PARAM(levels, 56);

__attribute__((noinline)) static uint32_t walk(int32_t level) {
  volatile uint8_t window[96];
  uint8_t *block = malloc(16);
  if (block == NULL) return 0;
  memset(block, level & 0xff, 16);
  for (unsigned i = 0; i < sizeof window; i++) window[i] = (uint8_t)(level + i);
  uint32_t sum = level > 0 ? walk(level - 1) : 0;
  sum += window[level % sizeof window] + block[7];
  free(block);
  return sum;
}

int main(void) {
  int32_t levels = TLSF_SIM_PARAM_GET(levels);
  uint32_t sum = walk(levels);
  printf("stack-depth: %ld levels, checksum %lu\n", (long)levels, (unsigned long)sum);
  return 0;
}
