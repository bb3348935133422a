/* Out-of-line parts of the tlsf_sim.h API. */
#include <stdarg.h>
#include <stdio.h>

#include "tlsf_sim.h"

int tlsf_sim_printf(const char *format, ...) {
  char line[160];
  va_list args;
  va_start(args, format);
  /* vsnprintf into a string never allocates in newlib, so this works with a full heap. */
  int length = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (length < 0) return length;
  size_t written = (size_t)length < sizeof line ? (size_t)length : sizeof line - 1;
  tlsf_sim_write(line, written);
  return length;
}
