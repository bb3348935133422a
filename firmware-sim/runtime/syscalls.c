/*
 * C library system calls for tlsf-sim (newlib's names; picolibc uses _exit from here and its console from
 * picolibc_stdio.c): console output goes to the host's write service, exit ends the run, and _sbrk always
 * fails, so nothing (newlib's allocator included, were it linked) can grow a second heap beside the host's
 * TLSF heap.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <sys/time.h>
#include <unistd.h>

#include "tlsf_sim.h"

#ifndef __PICOLIBC__
#undef errno
extern int errno;
#endif

int _write(int fd, const char *buf, int len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  if (len > 0) tlsf_sim_write(buf, (size_t)len);
  return len;
}

int _read(int fd, char *buf, int len) {
  (void)fd;
  (void)buf;
  (void)len;
  return 0; /* end of file: the board has no console input */
}

void tlsf_sim_run_fini_array(void);
/* Defined by picolibc_stdio.c, which buffers console lines. */
void tlsf_sim_console_flush(void) __attribute__((weak));

void _exit(int status) {
#ifndef __PICOLIBC__
  tlsf_sim_run_fini_array();
#endif
  if (tlsf_sim_console_flush) tlsf_sim_console_flush();
  tlsf_sim_exit(status);
}

int _close(int fd) {
  (void)fd;
  errno = EBADF;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  (void)fd;
  /* A character device makes newlib line-buffer stdout, like a UART console. */
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int offset, int whence) {
  (void)fd;
  (void)offset;
  (void)whence;
  errno = ESPIPE;
  return -1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

int _open(const char *path, int flags, int mode) {
  (void)path;
  (void)flags;
  (void)mode;
  errno = ENOENT;
  return -1;
}

void *_sbrk(ptrdiff_t increment) {
  (void)increment;
  errno = ENOMEM;
  return (void *)-1;
}

/* Time from the instruction counter: 1 "clock tick" per executed instruction. */
clock_t _times(struct tms *buf) {
  clock_t now = (clock_t)tlsf_sim_ticks();
  if (buf) {
    buf->tms_utime = now;
    buf->tms_stime = 0;
    buf->tms_cutime = 0;
    buf->tms_cstime = 0;
  }
  return now;
}

int _gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  if (tv) {
    tv->tv_sec = 0;
    tv->tv_usec = 0;
  }
  return 0;
}
