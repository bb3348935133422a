/*
 * The console for picolibc: its stdio (tinystdio) writes through FILE objects the application defines.
 * Characters are collected into lines so that the host's write service is called once per line, as
 * newlib's line-buffered stdout does; _exit flushes the last partial line.
 */
#include <stdio.h>

#include "tlsf_sim.h"

/* Empty under newlib, so the same source list builds with either C library. */
#ifdef __PICOLIBC__

static char console_line[128];
static size_t console_used;

void tlsf_sim_console_flush(void) {
  if (console_used) tlsf_sim_write(console_line, console_used);
  console_used = 0;
}

static int console_put(char c, FILE *file) {
  (void)file;
  console_line[console_used++] = c;
  if (c == '\n' || console_used == sizeof console_line) tlsf_sim_console_flush();
  return (unsigned char)c;
}

static int console_flush(FILE *file) {
  (void)file;
  tlsf_sim_console_flush();
  return 0;
}

/* The board has no console input: reads see end of file. */
static int console_get(FILE *file) {
  (void)file;
  return EOF;
}

static FILE console = FDEV_SETUP_STREAM(console_put, console_get, console_flush, _FDEV_SETUP_RW);

FILE *const stdin = &console;
FILE *const stdout = &console;
FILE *const stderr = &console;
#endif /* __PICOLIBC__ */
