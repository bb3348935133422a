/*
 * The few Unicorn 2 declarations the board's native helpers use, written out here so that building them needs no
 * Unicorn headers (the Python wheel ships them, Debian's libunicorn2 does not). The values are Unicorn's ABI, the
 * same in 2.0.x and 2.1.x: unicorn.h (uc_hook_type, uc_err) and arm.h (uc_arm_reg). The helpers do not link against
 * libunicorn: tlsf_sim_native_bind() finds the functions in the library the board already loaded (engine-locate.ts
 * chose and verified it), so both always talk to the same engine.
 */
#ifndef TLSF_SIM_UNICORN_API_H
#define TLSF_SIM_UNICORN_API_H

#include <stdint.h>
#include <stddef.h>

#define TLSF_SIM_EXPORT __attribute__((visibility("default")))

/* Bumped whenever an exported function or a shared-state layout changes; native-library.ts checks it. */
#define TLSF_SIM_NATIVE_VERSION 5

typedef struct uc_struct uc_engine;
typedef size_t uc_hook;
typedef int uc_err;

enum { UC_ERR_OK = 0 };
enum { UC_HOOK_BLOCK = 1 << 3 };
enum { UC_ARM_REG_PC = 11 };

/* void (*uc_cb_hookcode_t)(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) */
typedef void (*uc_cb_hookcode_t)(uc_engine *uc, uint64_t address, uint32_t size, void *user_data);

struct unicorn_api {
  uc_err (*hook_add)(uc_engine *uc, uc_hook *hh, int type, void *callback, void *user_data, uint64_t begin,
                     uint64_t end, ...);
  uc_err (*hook_del)(uc_engine *uc, uc_hook hh);
  uc_err (*emu_start)(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count);
  uc_err (*emu_stop)(uc_engine *uc);
  uc_err (*reg_write)(uc_engine *uc, int regid, const void *value);
  uc_err (*reg_read)(uc_engine *uc, int regid, void *value);
};

/* Filled by tlsf_sim_native_bind(); every pointer is non-null once it returned 0. */
extern struct unicorn_api unicorn;

#endif
