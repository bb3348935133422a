/*
 * Binds the native helpers to the Unicorn library the board loaded (see unicorn-api.h for why they do not link
 * against it), and says which version of the helpers' interface this build is.
 */
#include <dlfcn.h>

#include "unicorn-api.h"

struct unicorn_api unicorn;

/* 0 when every function was found; -1 when the library cannot be opened; -2 when a function is missing. */
TLSF_SIM_EXPORT int tlsf_sim_native_bind(const char *library_path) {
  /* RTLD_NOLOAD: the handle of the copy koffi already opened, never a second copy with its own globals. */
  void *library = dlopen(library_path, RTLD_NOW | RTLD_NOLOAD);
  if (library == NULL) library = dlopen(library_path, RTLD_NOW);
  if (library == NULL) return -1;
  unicorn.hook_add = (uc_err(*)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...))dlsym(
      library, "uc_hook_add");
  unicorn.hook_del = (uc_err(*)(uc_engine *, uc_hook))dlsym(library, "uc_hook_del");
  unicorn.emu_start =
      (uc_err(*)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t))dlsym(library, "uc_emu_start");
  unicorn.emu_stop = (uc_err(*)(uc_engine *))dlsym(library, "uc_emu_stop");
  unicorn.reg_write = (uc_err(*)(uc_engine *, int, const void *))dlsym(library, "uc_reg_write");
  unicorn.reg_read = (uc_err(*)(uc_engine *, int, void *))dlsym(library, "uc_reg_read");
  if (!unicorn.hook_add || !unicorn.hook_del || !unicorn.emu_start || !unicorn.emu_stop || !unicorn.reg_write || !unicorn.reg_read) {
    return -2;
  }
  return 0;
}

TLSF_SIM_EXPORT int tlsf_sim_native_version(void) { return TLSF_SIM_NATIVE_VERSION; }
