/*
 * Float-heavy work whose every result is fixed by IEEE 754 (each operation correctly rounded, round to
 * nearest, subnormals kept), folded into one checksum that must match the value the same code gives on any
 * conforming machine. Built hard-float, the single-precision work runs on the FPU (fpv4-sp-d16 on a
 * Cortex-M4F, fpv5-sp-d16 on a Cortex-M7) and the double-precision work in the soft-float library; the
 * program also checks that the startup code turned the FPU on (CPACR).
 * GCC fuses a * b + c into one instruction on an FPU that has it unless told not to; the functions below
 * ask for separate rounding so the checksum does not depend on the FPU, and fmaf() tests the fused one.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXPECTED_CHECKSUM 0x305f59dau
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

static uint32_t checksum = 2166136261u;

static void fold(uint32_t word) {
  for (int i = 0; i < 4; i++) {
    checksum ^= (word >> (8 * i)) & 0xffu;
    checksum *= 16777619u;
  }
}

static void fold_float(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  fold(bits);
}

static void fold_double(double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  fold((uint32_t)bits);
  fold((uint32_t)(bits >> 32));
}

/* Arguments and result in s0-s2 under the hard-float ABI; noinline keeps the call. */
__attribute__((noinline, optimize("fp-contract=off"))) static float lerp(float from, float to, float t) {
  return from + (to - from) * t;
}

__attribute__((optimize("fp-contract=off"))) static float single_precision(void) {
  float x = 0.3f;
  float sum = 0.0f;
  for (int i = 1; i <= 2000; i++) {
    x = 3.7f * x * (1.0f - x); /* the logistic map: chaotic, so one wrong rounding shows */
    sum += sqrtf(x) / (float)i;
    float scaled = x * 1000.0f;
    fold((uint32_t)(int32_t)scaled); /* float to integer conversion, rounding toward zero */
    if (x > 0.5f) sum -= lerp(x, sum, 0.25f);
  }
  fold_float(x);
  fold_float(sum);
  /* Fused: 2^-12 + 2^-26 exactly, where a separate multiply would round the 2^-26 away. */
  float a = 1.0f + 0x1p-13f;
  fold_float(fmaf(a, a, -1.0f));
  /* Subnormals: flush-to-zero mode would make these 0. */
  volatile float tiny = 0x1p-126f;
  fold_float(tiny / 1024.0f);
  fold_float((tiny / 3.0f) * 3.0f);
  return sum;
}

__attribute__((optimize("fp-contract=off"))) static double double_precision(float seed) {
  double y = (double)seed * (double)seed + 1.0;
  double total = 0.0;
  for (int i = 1; i <= 500; i++) {
    y = y * 1.0000001 + 1.0 / (double)(i * i);
    total += sqrt(y) - y / 3.0;
  }
  fold_double(y);
  fold_double(total);
  fold_double((double)(float)total); /* double to float and back */
  return total;
}

int main(void) {
#if defined(__ARM_FP)
  uint32_t access = (CPACR >> 20) & 0xfu;
  if (access != 0xfu) {
    printf("float-math: CPACR grants CP10/CP11 0x%lx, not full access: the startup left the FPU off\n",
           (unsigned long)access);
    return 2;
  }
#endif
  float sum = single_precision();
  double total = double_precision(sum);
  printf("float-math: checksum 0x%08lx, sum %.6g, total %.9g\n", (unsigned long)checksum, (double)sum, total);
  return checksum == EXPECTED_CHECKSUM ? 0 : 1;
}
