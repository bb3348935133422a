/*
 * tlsf_sim.h - the firmware side of the tlsf-sim host ABI (docs/design.md sections 3 and 4).
 *
 * Firmware running on a tlsf-sim board reaches the host through a "service page" mapped at
 * 0x9FFFF000: slot n is a `bx lr` at 0x9FFFF000 + 4n that the host hooks. A service is an ordinary
 * AAPCS call through the function pointer 0x9FFFF001 + 4n (Thumb bit set): arguments in r0-r3,
 * result in r0. Nothing else is needed, so these wrappers are header-only and work from any C99
 * or C++ compiler targeting Thumb.
 *
 * Define TLSF_SIM_HOST before including this header to compile the same firmware for the
 * development machine: the services then become ordinary functions (see host/tlsf_sim_host.c).
 */
#ifndef TLSF_SIM_H
#define TLSF_SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLSF_SIM_SERVICE_BASE 0x9FFFF000u

/* Slot numbers; the table in docs/design.md section 3 is authoritative. */
enum {
  TLSF_SIM_SLOT_MALLOC = 0,
  TLSF_SIM_SLOT_FREE = 1,
  TLSF_SIM_SLOT_REALLOC = 2,
  TLSF_SIM_SLOT_CALLOC = 3,
  TLSF_SIM_SLOT_MEMALIGN = 4,
  TLSF_SIM_SLOT_USABLE_SIZE = 5,
  TLSF_SIM_SLOT_WRITE = 6,
  TLSF_SIM_SLOT_EXIT = 7,
  TLSF_SIM_SLOT_TICKS = 8,
  TLSF_SIM_SLOT_ASSERT_FAIL = 9,
  TLSF_SIM_SLOT_OUT_OF_MEMORY = 10,
  TLSF_SIM_SLOT_HEAP_INFO = 11,
  TLSF_SIM_SLOT_MARK = 12
};

/*
 * Address to call for slot n: the slot's address with the Thumb bit set; TLSF_SIM_SERVICE(type, slot) is that
 * address as a function of `type`. C++ gets its own casts, so that the header stays quiet under strict C++
 * warnings (-Wold-style-cast, -Wuseless-cast, -Wzero-as-null-pointer-constant) in the code that includes it.
 */
#ifdef __cplusplus
#define TLSF_SIM_SERVICE_ADDR(slot) (TLSF_SIM_SERVICE_BASE + 4u * static_cast<unsigned>(slot) + 1u)
#define TLSF_SIM_SERVICE(type, slot) reinterpret_cast<type>(TLSF_SIM_SERVICE_ADDR(slot))
#if __cplusplus >= 201103L
#define TLSF_SIM_NO_CALLER nullptr
#else
#define TLSF_SIM_NO_CALLER 0
#endif
#else
#define TLSF_SIM_SERVICE_ADDR(slot) ((uintptr_t)TLSF_SIM_SERVICE_BASE + 4u * (uintptr_t)(slot) + 1u)
#define TLSF_SIM_SERVICE(type, slot) ((type)TLSF_SIM_SERVICE_ADDR(slot))
#define TLSF_SIM_NO_CALLER 0
#endif

/* Filled by tlsf_sim_heap_info(): seven 32-bit words, in this order. */
typedef struct {
  uint32_t used;          /* bytes in used blocks, headers included */
  uint32_t free;          /* bytes in free blocks */
  uint32_t largest_free;  /* largest single free block */
  uint32_t peak_used;     /* high-water mark of `used` */
  uint32_t control_bytes; /* TLSF control structure */
  uint32_t heap_base;     /* first heap address */
  uint32_t heap_size;     /* bytes managed */
} tlsf_sim_heap_info_t;

#ifdef TLSF_SIM_HOST
/* Native build: implemented in host/tlsf_sim_host.c. */
void tlsf_sim_write(const char *buf, size_t len);
void tlsf_sim_exit(int status);
uint32_t tlsf_sim_ticks(void);
void tlsf_sim_assert_fail(const char *file, int line, const char *expr);
void tlsf_sim_out_of_memory(size_t size);
void tlsf_sim_heap_info(tlsf_sim_heap_info_t *out);
void tlsf_sim_mark(const char *label);
#else

#if defined(__GNUC__)
#define TLSF_SIM_NORETURN __attribute__((noreturn))
#else
#define TLSF_SIM_NORETURN
#endif

/* Console output (the host appends it to the run's output). */
static inline void tlsf_sim_write(const char *buf, size_t len) {
  TLSF_SIM_SERVICE(void (*)(const char *, size_t), TLSF_SIM_SLOT_WRITE)(buf, len);
}

/* Stops the run: 0 is result `ok`, anything else `exit-failure`. */
static inline TLSF_SIM_NORETURN void tlsf_sim_exit(int status) {
  TLSF_SIM_SERVICE(void (*)(int), TLSF_SIM_SLOT_EXIT)(status);
  for (;;) {
    /* The host never returns from exit; spin in case a debugger resumes us. */
  }
}

/* Instructions executed so far, low 32 bits. */
static inline uint32_t tlsf_sim_ticks(void) {
  return TLSF_SIM_SERVICE(uint32_t (*)(void), TLSF_SIM_SLOT_TICKS)();
}

/* Stops the run with result `assertion`, naming file, line and expression. */
static inline TLSF_SIM_NORETURN void tlsf_sim_assert_fail(const char *file, int line, const char *expr) {
  TLSF_SIM_SERVICE(void (*)(const char *, int, const char *), TLSF_SIM_SLOT_ASSERT_FAIL)(file, line, expr);
  for (;;) {
  }
}

/* The workload cannot continue without `size` more bytes: stops with result `out-of-memory`. */
static inline TLSF_SIM_NORETURN void tlsf_sim_out_of_memory(size_t size) {
  TLSF_SIM_SERVICE(void (*)(size_t, const void *), TLSF_SIM_SLOT_OUT_OF_MEMORY)(size, TLSF_SIM_NO_CALLER);
  for (;;) {
  }
}

/*
 * The same stop, reported as called from `caller`: an allocation wrapper (xmalloc) passes its own return address
 * (TLSF_SIM_CALLER()) so that the report names the code that needed the memory, not the wrapper.
 */
static inline TLSF_SIM_NORETURN void tlsf_sim_out_of_memory_from(size_t size, const void *caller) {
  TLSF_SIM_SERVICE(void (*)(size_t, const void *), TLSF_SIM_SLOT_OUT_OF_MEMORY)(size, caller);
  for (;;) {
  }
}

/* Current heap figures from the host allocator. */
static inline void tlsf_sim_heap_info(tlsf_sim_heap_info_t *out) {
  TLSF_SIM_SERVICE(void (*)(tlsf_sim_heap_info_t *), TLSF_SIM_SLOT_HEAP_INFO)(out);
}

/* A phase marker in the host's event log (label: NUL-terminated, kept short). */
static inline void tlsf_sim_mark(const char *label) {
  TLSF_SIM_SERVICE(void (*)(const char *), TLSF_SIM_SLOT_MARK)(label);
}

/*
 * Direct access to the heap service, bypassing the C library.
 *
 * The caller argument. The host names a caller for every heap call (the event log, fault and out-of-memory
 * reports, `tlsf-sim step`). By default that is lr at the slot, which is right when firmware calls a slot
 * directly, but names the wrapper when a C library function such as malloc() calls the slot. So each heap
 * service takes one more argument, in the first register its own arguments leave free (malloc, free,
 * usable_size: r1; realloc, calloc, memalign: r2): the return address the host should report. Wrappers pass
 * their own return address (TLSF_SIM_CALLER(), as runtime/heap.c does); 0 means "use lr". The host uses the
 * value only when it looks like a return address (Thumb bit set, in flash or RAM, just after a BL or BLX),
 * else lr, so firmware that calls the slots with the classic signatures (leaving junk in that register)
 * still gets lr. A tail call would keep lr instead, but malloc() must set errno after the service returns,
 * so the wrappers cannot all be tail calls; the explicit argument works for every wrapper.
 */
#define TLSF_SIM_CALLER() __builtin_return_address(0)

/* Forced inline: each service should stay one call from the wrapper, so that lr at the slot is the wrapper. */
#if defined(__GNUC__)
#define TLSF_SIM_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TLSF_SIM_ALWAYS_INLINE static inline
#endif

TLSF_SIM_ALWAYS_INLINE void *tlsf_sim_malloc_from(size_t size, const void *caller) {
  return TLSF_SIM_SERVICE(void *(*)(size_t, const void *), TLSF_SIM_SLOT_MALLOC)(size, caller);
}
TLSF_SIM_ALWAYS_INLINE void tlsf_sim_free_from(void *ptr, const void *caller) {
  TLSF_SIM_SERVICE(void (*)(void *, const void *), TLSF_SIM_SLOT_FREE)(ptr, caller);
}
TLSF_SIM_ALWAYS_INLINE void *tlsf_sim_realloc_from(void *ptr, size_t size, const void *caller) {
  return TLSF_SIM_SERVICE(void *(*)(void *, size_t, const void *), TLSF_SIM_SLOT_REALLOC)(ptr, size, caller);
}
TLSF_SIM_ALWAYS_INLINE void *tlsf_sim_calloc_from(size_t count, size_t size, const void *caller) {
  return TLSF_SIM_SERVICE(void *(*)(size_t, size_t, const void *), TLSF_SIM_SLOT_CALLOC)(count, size, caller);
}
TLSF_SIM_ALWAYS_INLINE void *tlsf_sim_memalign_from(size_t align, size_t size, const void *caller) {
  return TLSF_SIM_SERVICE(void *(*)(size_t, size_t, const void *), TLSF_SIM_SLOT_MEMALIGN)(align, size, caller);
}
TLSF_SIM_ALWAYS_INLINE size_t tlsf_sim_usable_size_from(void *ptr, const void *caller) {
  return TLSF_SIM_SERVICE(size_t (*)(void *, const void *), TLSF_SIM_SLOT_USABLE_SIZE)(ptr, caller);
}

/* The same services reported as called from wherever these are inlined (caller 0: the host uses lr). */
static inline void *tlsf_sim_malloc(size_t size) { return tlsf_sim_malloc_from(size, TLSF_SIM_NO_CALLER); }
static inline void tlsf_sim_free(void *ptr) { tlsf_sim_free_from(ptr, TLSF_SIM_NO_CALLER); }
static inline void *tlsf_sim_realloc(void *ptr, size_t size) { return tlsf_sim_realloc_from(ptr, size, TLSF_SIM_NO_CALLER); }
static inline void *tlsf_sim_calloc(size_t count, size_t size) { return tlsf_sim_calloc_from(count, size, TLSF_SIM_NO_CALLER); }
static inline void *tlsf_sim_memalign(size_t align, size_t size) { return tlsf_sim_memalign_from(align, size, TLSF_SIM_NO_CALLER); }
static inline size_t tlsf_sim_usable_size(void *ptr) { return tlsf_sim_usable_size_from(ptr, TLSF_SIM_NO_CALLER); }
#endif /* TLSF_SIM_HOST */

/* printf-style output through tlsf_sim_write; formats into a stack buffer (no heap use), lines
 * longer than 160 bytes are cut. Implemented in runtime/tlsf_sim.c (host/tlsf_sim_host.c natively). */
int tlsf_sim_printf(const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Like assert(), but always compiled in, and it stops the run with result `assertion`. */
#define TLSF_SIM_ASSERT(expr) \
  ((expr) ? (void)0 : tlsf_sim_assert_fail(__FILE__, __LINE__, #expr))

/*
 * Parameter block (design.md section 4). Each parameter is a 32-byte record in section
 * .tlsf_params, in flash; the host patches `value` by `name` before the run
 * (tlsf-sim run ... --param name=value). Read it with TLSF_SIM_PARAM_GET so the compiler
 * cannot fold the default in.
 *
 *   TLSF_SIM_PARAM(iterations, 100);
 *   ...
 *   int32_t n = TLSF_SIM_PARAM_GET(iterations);
 */
typedef struct {
  char name[28]; /* NUL-terminated, at most 27 characters */
  int32_t value;
} tlsf_sim_param_t;

#if defined(__GNUC__)
#define TLSF_SIM_PARAM_ATTRIBUTES __attribute__((section(".tlsf_params"), used, aligned(4)))
#else
#define TLSF_SIM_PARAM_ATTRIBUTES
#endif

#define TLSF_SIM_PARAM(ident, default_value) \
  static const volatile tlsf_sim_param_t tlsf_sim_param_##ident TLSF_SIM_PARAM_ATTRIBUTES = {#ident, (default_value)}

#define TLSF_SIM_PARAM_GET(ident) ((int32_t)tlsf_sim_param_##ident.value)

#ifdef __cplusplus
}
#endif

#endif /* TLSF_SIM_H */
