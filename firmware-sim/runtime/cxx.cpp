/*
 * The C++ part of the runtime, linked when a program has C++ sources: every form of operator new and
 * delete goes to the host's TLSF heap, and what -nostartfiles leaves out of the C++ ABI is supplied here.
 *
 * The operators call the heap services directly with their own return address (TLSF_SIM_CALLER()), so
 * reports name the function that said `new`, not the operator. Without exceptions (the default,
 * -fno-exceptions) a throwing `new` cannot report failure by throwing std::bad_alloc, so it ends the run
 * with result `out-of-memory` instead; the nothrow forms return nullptr.
 */
#include <cstddef>
#include <cstdlib>
#include <new>

#include "tlsf_sim.h"

#define TLSF_SIM_CXX_INLINE static inline __attribute__((always_inline))

TLSF_SIM_CXX_INLINE void *allocate_or_null(std::size_t size, std::size_t align, const void *caller) {
  // new of 0 bytes must return a unique pointer, which malloc(0) need not.
  if (size == 0) size = 1;
  if (align > alignof(std::max_align_t)) return tlsf_sim_memalign_from(align, size, caller);
  return tlsf_sim_malloc_from(size, caller);
}

TLSF_SIM_CXX_INLINE void *allocate(std::size_t size, std::size_t align, const void *caller) {
  void *block = allocate_or_null(size, align, caller);
  if (!block) tlsf_sim_out_of_memory_from(size, caller);
  return block;
}

TLSF_SIM_CXX_INLINE void release(void *block, const void *caller) {
  if (block) tlsf_sim_free_from(block, caller);
}

void *operator new(std::size_t size) { return allocate(size, 0, TLSF_SIM_CALLER()); }
void *operator new[](std::size_t size) { return allocate(size, 0, TLSF_SIM_CALLER()); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept { return allocate_or_null(size, 0, TLSF_SIM_CALLER()); }
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept { return allocate_or_null(size, 0, TLSF_SIM_CALLER()); }

void operator delete(void *block) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete(void *block, const std::nothrow_t &) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block, const std::nothrow_t &) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete(void *block, std::size_t) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block, std::size_t) noexcept { release(block, TLSF_SIM_CALLER()); }

#if defined(__cpp_aligned_new)
void *operator new(std::size_t size, std::align_val_t align) {
  return allocate(size, static_cast<std::size_t>(align), TLSF_SIM_CALLER());
}
void *operator new[](std::size_t size, std::align_val_t align) {
  return allocate(size, static_cast<std::size_t>(align), TLSF_SIM_CALLER());
}
void *operator new(std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept {
  return allocate_or_null(size, static_cast<std::size_t>(align), TLSF_SIM_CALLER());
}
void *operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept {
  return allocate_or_null(size, static_cast<std::size_t>(align), TLSF_SIM_CALLER());
}
void operator delete(void *block, std::align_val_t) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block, std::align_val_t) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete(void *block, std::size_t, std::align_val_t) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block, std::size_t, std::align_val_t) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete(void *block, std::align_val_t, const std::nothrow_t &) noexcept { release(block, TLSF_SIM_CALLER()); }
void operator delete[](void *block, std::align_val_t, const std::nothrow_t &) noexcept { release(block, TLSF_SIM_CALLER()); }
#endif

extern "C" {
// The handle static objects register their destructors under (__cxa_atexit); crtbegin.o, which normally
// defines it, is not linked (-nostartfiles). One program, one handle.
__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;

#if defined(_NEWLIB_VERSION) && !defined(__PICOLIBC__)
// newlib's __cxa_atexit only weakly refers to __register_exitproc (newlib's startup files pull it in through
// atexit, which -nostartfiles leaves out): without this reference static destructors silently never run.
int __register_exitproc(int, void (*)(void), void *, void *);
__attribute__((used)) static int (*const tlsf_sim_keep_register_exitproc)(int, void (*)(void), void *, void *) =
    __register_exitproc;
#endif

// A pure virtual call is a program bug; libsupc++'s handler would pull in std::terminate and the unwinder.
void __cxa_pure_virtual(void) { tlsf_sim_assert_fail(__FILE__, __LINE__, "pure virtual function called"); }
}
