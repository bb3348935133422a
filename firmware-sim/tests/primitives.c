/*
 * primitives.c - the instruction sequences the heap cycle model (src/cli/cycle-model.ts) prices, run on the
 * board and counted by it (tests/cycle-model-primitives.test.ts, docs/cli.md "Cost of each call").
 *
 * tlsf_sim_ticks() returns the instructions executed so far. Each primitive is measured twice, repeated
 * SHORT and LONG times; the difference divided by LONG - SHORT is the instructions of one primitive (the
 * ticks() calls and the compiler's code around the asm cancel exactly).
 * Prints one line "name short-span long-span" per primitive, then "repeats SHORT LONG", then "primitives: ok"; exits 1 if a bit scan returned
 * a wrong index.
 */
#include <stdint.h>
#include "tlsf_sim.h"

#define SHORT 16
#define LONG 48
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static volatile uint32_t cell = 0x12345678u;

/* Armv6-M has no CLZ: the lowest set bit of a bitmap word is isolated (x & -x), multiplied by a de Bruijn
 * constant, and the top five bits index a 32-entry table. The constant is loaded (a heap keeps it in the
 * literal pool); the table's address stays in a register across a search. */
static const uint32_t de_bruijn = 0x077CB531u;
static const uint8_t de_bruijn_index[32] = {0,  1,  28, 2,  29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4,  8,
                                            31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6,  11, 5,  10, 9};

#define BIT_SCAN_ARMV6M                                                                                        \
  "negs r2, %[word]\n\t"                                                                                       \
  "ands r2, %[word]\n\t"                                                                                       \
  "ldr r3, [%[constant]]\n\t"                                                                                  \
  "muls r2, r3\n\t"                                                                                            \
  "lsrs r2, r2, #27\n\t"                                                                                       \
  "ldrb %[index], [%[table], r2]\n\t"

/* One function per measurement, so the code the compiler puts around the asm is the same for SHORT and
 * LONG and small enough for Armv6-M's literal pool range. */
#define MEASURE(name, count, body, ...)                                                                        \
  static __attribute__((noinline)) uint32_t name(void) {                                                       \
    uint32_t start = tlsf_sim_ticks();                                                                         \
    __asm__ volatile(".syntax unified\n\t.rept " STRINGIFY(count) "\n\t" body ".endr\n\t" __VA_ARGS__);      \
    return tlsf_sim_ticks() - start;                                                                           \
  }
#define PRIMITIVE(name, body, ...)                                                                             \
  MEASURE(name##_short, SHORT, body, __VA_ARGS__)                                                              \
  MEASURE(name##_long, LONG, body, __VA_ARGS__)

static uint32_t scratch;
static uint32_t word = 0x00010100u;

PRIMITIVE(load, "ldr r3, [%0]\n\t", : : "l"(&cell) : "r3", "memory")
PRIMITIVE(store, "str r3, [%0]\n\t", : : "l"(&scratch) : "r3", "memory")
/* Every `b` is taken: it jumps over nothing to the next label, as a loop's back edge leaves the straight
 * path. */
PRIMITIVE(branch, "b 1f\n1:\n\t", : : : "memory")
PRIMITIVE(bit_scan_armv6m, BIT_SCAN_ARMV6M, : [index] "=l"(scratch)
          : [word] "l"(word), [constant] "l"(&de_bruijn), [table] "l"(de_bruijn_index)
          : "r2", "r3", "cc", "memory")
#if __ARM_ARCH >= 7
/* Armv7-M: the highest set bit is one CLZ; the lowest (a find-first-set, what a free-list search needs) is
 * RBIT then CLZ. */
PRIMITIVE(clz, "clz %[index], %[word]\n\t", : [index] "=r"(scratch) : [word] "r"(word))
PRIMITIVE(find_first_set_armv7m, "rbit %[index], %[word]\n\tclz %[index], %[index]\n\t", : [index] "=&r"(scratch)
          : [word] "r"(word))
#endif

static void put(const char *text) {
  const char *end = text;
  while (*end) end++;
  tlsf_sim_write(text, (size_t)(end - text));
}

static void put_number(uint32_t value) {
  char digits[12];
  int length = 0;
  do {
    digits[length++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (length > 0) tlsf_sim_write(&digits[--length], 1);
}

/* The test divides: a difference that is not a whole number of instructions per primitive shows up there. */
static void report(const char *name, uint32_t short_span, uint32_t long_span) {
  put(name);
  put(" ");
  put_number(short_span);
  put(" ");
  put_number(long_span);
  put("\n");
}

static uint32_t scan_armv6m(uint32_t word) {
  uint32_t index;
  __asm__ volatile(".syntax unified\n\t" BIT_SCAN_ARMV6M
                   : [index] "=l"(index)
                   : [word] "l"(word), [constant] "l"(&de_bruijn), [table] "l"(de_bruijn_index)
                   : "r2", "r3", "cc");
  return index;
}

int main(void) {
  report("load", load_short(), load_long());
  report("store", store_short(), store_long());
  report("branch", branch_short(), branch_long());
  report("bit-scan-armv6m", bit_scan_armv6m_short(), bit_scan_armv6m_long());
#if __ARM_ARCH >= 7
  report("clz", clz_short(), clz_long());
  report("find-first-set-armv7m", find_first_set_armv7m_short(), find_first_set_armv7m_long());
#endif

  /* The routine is only worth counting if it finds the right bit. */
  for (uint32_t bit = 0; bit < 32; bit++) {
    if (scan_armv6m((1u << bit) | (bit < 31 ? 0x80000000u : 0u)) != bit) {
      put("primitives: bit scan wrong\n");
      tlsf_sim_exit(1);
    }
  }
  put("repeats ");
  put_number(SHORT);
  put(" ");
  put_number(LONG);
  put("\nprimitives: ok\n");
  return 0;
}
