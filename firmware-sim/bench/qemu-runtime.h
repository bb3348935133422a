/*
 * The bare runtime for the QEMU build of the bench workloads (mps2-an386): semihosting for output, exit and
 * the command line that carries the parameters.
 */
#ifndef BENCH_QEMU_RUNTIME_H
#define BENCH_QEMU_RUNTIME_H

#include <stdint.h>

/* The value of `name=<decimal>` on the semihosting command line, or default_value when absent. */
int32_t bench_param(const char *name, int32_t default_value);

#endif
