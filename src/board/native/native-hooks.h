/*
 * What the board's one block hook (block-hook.c) calls in the other helpers. Internal to the library: the build
 * hides every symbol not marked TLSF_SIM_EXPORT.
 */
#ifndef TLSF_SIM_NATIVE_HOOKS_H
#define TLSF_SIM_NATIVE_HOOKS_H

#include "unicorn-api.h"

struct block_counter;
struct free_queue;
struct js_service;

/*
 * Counts the block at `address` (block-counter.c). With `may_stop`, a block that would take the slice past its
 * limit stops the run before its first instruction instead of being counted.
 */
void tlsf_sim_count_block(uc_engine *uc, struct block_counter *counter, uint64_t address, uint32_t size,
                          int may_stop);

/* Serves a call on the free slot (heap-free-queue.c); non-zero when it stopped the run for the JavaScript path. */
int tlsf_sim_serve_free(uc_engine *uc, struct free_queue *queue);

/* Gives the JavaScript entry (napi-entry.c) the engine its start() runs. */
void tlsf_sim_js_service_attach(struct js_service *service, uc_engine *uc);

/*
 * Calls the JavaScript heap service for the slot at `address` through Node-API (napi-entry.c): non-zero when it
 * stopped the run, -1 when the engine was not started through the entry (the caller then uses its other way in).
 */
int tlsf_sim_js_service_call(uc_engine *uc, struct js_service *service, uint32_t address);

#endif
