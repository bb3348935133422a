/*
 * ram-code: a function linked to run from RAM (copied there with .data by the startup code), as firmware does
 * for flash programming or speed. Its LOAD segment has the execute flag, so tlsf-sim maps that RAM executable;
 * the run must end `ok` with "ram function 42".
 */
#include <stdint.h>
#include <unistd.h>

__attribute__((section(".data.ramfunc"), noinline)) static int32_t add_in_ram(int32_t a, int32_t b) { return a + b; }

int main(void) {
  static const char line[] = "ram function 42\n";
  if (add_in_ram(40, 2) != 42) return 1;
  write(1, line, sizeof line - 1);
  return 0;
}
