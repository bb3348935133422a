/*
 * Startup and system calls for the QEMU build of the bench workloads on mps2-an386 (Cortex-M4; code at 0,
 * SRAM at 0x20000000): the vector table, a reset handler that copies .data and zeroes .bss, newlib's
 * system calls over Arm semihosting (bkpt 0xab), and a heap between .bss and the stack for newlib's malloc.
 * Run with: qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native,arg=kind=1
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "qemu-runtime.h"

#undef errno
extern int errno;

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss, __heap_start, __heap_end;

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

enum { SYS_WRITE0 = 0x04, SYS_GET_CMDLINE = 0x15, SYS_EXIT = 0x18, ADP_STOPPED_APPLICATION_EXIT = 0x20026,
       ADP_STOPPED_RUNTIME_ERROR = 0x20023 };

static uint32_t semihost(uint32_t operation, const void *argument) {
  register uint32_t r0 __asm("r0") = operation;
  register const void *r1 __asm("r1") = argument;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) const vector_t bench_vectors[16] = {
    (vector_t)&_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};

void Reset_Handler(void) {
  uint32_t *src = &_sidata;
  for (uint32_t *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  exit(main());
}

void Fault_Handler(void) {
  semihost(SYS_WRITE0, "bench workload: unexpected exception\n");
  semihost(SYS_EXIT, (const void *)ADP_STOPPED_RUNTIME_ERROR);
  for (;;) {
  }
}

void _exit(int status) {
  /* 32-bit semihosting SYS_EXIT carries no status: any failure is reported as a runtime error (QEMU exits 1). */
  semihost(SYS_EXIT, (const void *)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
  for (;;) {
  }
}

/* SYS_WRITE0 of NUL-terminated pieces: needs no console handle (SYS_OPEN of ":tt"). */
int _write(int fd, const char *buf, int len) {
  (void)fd;
  char piece[65];
  for (int done = 0; done < len;) {
    int size = len - done < 64 ? len - done : 64;
    for (int i = 0; i < size; i++) piece[i] = buf[done + i];
    piece[size] = 0;
    semihost(SYS_WRITE0, piece);
    done += size;
  }
  return len;
}

void *_sbrk(ptrdiff_t increment) {
  static char *top = (char *)&__heap_start;
  if (top + increment > (char *)&__heap_end) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *previous = top;
  top += increment;
  return previous;
}

int _read(int fd, char *buf, int len) { (void)fd; (void)buf; (void)len; return 0; }
int _close(int fd) { (void)fd; return -1; }
int _lseek(int fd, int offset, int whence) { (void)fd; (void)offset; (void)whence; return 0; }
int _fstat(int fd, struct stat *st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int _isatty(int fd) { (void)fd; return 1; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }
void _init(void) {}
void _fini(void) {}

int32_t bench_param(const char *name, int32_t default_value) {
  static char line[256];
  static int fetched;
  if (!fetched) {
    uint32_t block[2] = {(uint32_t)line, sizeof line - 1};
    if (semihost(SYS_GET_CMDLINE, block) != 0) line[0] = 0;
    fetched = 1;
  }
  for (const char *at = line; *at;) {
    while (*at == ' ') at++;
    const char *key = name;
    const char *cursor = at;
    while (*key && *cursor == *key) { key++; cursor++; }
    if (!*key && *cursor == '=') {
      int32_t value = 0;
      for (cursor++; *cursor >= '0' && *cursor <= '9'; cursor++) value = value * 10 + (*cursor - '0');
      return value;
    }
    while (*at && *at != ' ') at++;
  }
  return default_value;
}
