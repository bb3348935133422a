/*
 * The board's one native block hook (docs/board.md, "One block hook"). Unicorn walks its whole list of block hooks
 * on every translated block, bound-checking each, so every hook in the list costs every block; this one hook does
 * the three jobs that were separate hooks: the free slot (heap-free-queue.c), the rest of the service page (the
 * JavaScript heap service, through Node-API (napi-entry.c) or a koffi function pointer), and counting
 * (block-counter.c).
 */
#include "native-hooks.h"

/* Nothing else may stop the run on the service page: its call has been served, stopping would serve it again. */
enum { MAY_STOP = 1, NEVER_STOP = 0 };

/* Returns non-zero when the JavaScript service stopped the run (an exit, a fault, an exception it caught). */
typedef int (*service_call_t)(int32_t address);

struct block_hook {
  /* Null when this hook does not count (the board counts with Unicorn's count instead). */
  struct block_counter *counter;
  /* Null when every free goes to the JavaScript service. */
  struct free_queue *free_queue;
  service_call_t service_call;
  /* Null when Node did not load the library as an addon: every call goes through `service_call`. */
  struct js_service *js_service;
  uint32_t service_base;
  uint32_t service_size;
  uint32_t free_slot;
};

TLSF_SIM_EXPORT uint32_t tlsf_sim_block_hook_size(void) { return (uint32_t)sizeof(struct block_hook); }

static void on_block(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  struct block_hook *hook = user_data;
  if (address - hook->service_base < hook->service_size) {
    /*
     * A stop here must leave the slot's block uncounted, as Unicorn's own hook loop did when the service was a hook
     * of its own ahead of the counter: the run ends before the block's first instruction.
     */
    if (address == hook->free_slot && hook->free_queue != NULL) {
      if (tlsf_sim_serve_free(uc, hook->free_queue)) return;
    } else {
      int stopped = -1;
      if (hook->js_service != NULL) stopped = tlsf_sim_js_service_call(uc, hook->js_service, (uint32_t)address);
      if (stopped < 0) stopped = hook->service_call((int32_t)address);
      if (stopped) return;
    }
    if (hook->counter != NULL) tlsf_sim_count_block(uc, hook->counter, address, size, NEVER_STOP);
    return;
  }
  if (hook->counter != NULL) tlsf_sim_count_block(uc, hook->counter, address, size, MAY_STOP);
}

/*
 * Adds the hook to `uc`: over every address when `counter` is given, else over the service page alone. `state`
 * (tlsf_sim_block_hook_size() bytes), `counter`, `free_queue` and `js_service` stay owned by JavaScript and
 * must outlive the engine, as must the callback behind `service_call`. 0 on success, -1 for a bad argument, else
 * the uc_err.
 */
TLSF_SIM_EXPORT int tlsf_sim_block_hook_attach(uc_engine *uc, void *state, struct block_counter *counter,
                                               struct free_queue *free_queue, void *service_call,
                                               struct js_service *js_service, uint32_t service_base,
                                               uint32_t service_size, uint32_t free_slot) {
  if (state == NULL || service_call == NULL || service_size == 0) return -1;
  struct block_hook *hook = state;
  hook->counter = counter;
  hook->free_queue = free_queue;
  hook->service_call = (service_call_t)service_call;
  hook->js_service = js_service;
  if (js_service != NULL) tlsf_sim_js_service_attach(js_service, uc);
  hook->service_base = service_base;
  hook->service_size = service_size;
  hook->free_slot = free_slot;
  uint64_t begin = counter != NULL ? 1 : service_base;
  uint64_t end = counter != NULL ? 0 : (uint64_t)service_base + service_size - 1;
  uc_hook handle;
  return unicorn.hook_add(uc, &handle, UC_HOOK_BLOCK, (void *)on_block, hook, begin, end);
}
