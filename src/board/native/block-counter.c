/*
 * Exact instruction counting by translated block (docs/board.md, "Counting instructions"): the board's block
 * hook (block-hook.c) adds each block's instruction count as the block starts, so counting costs one C call per
 * block instead of Unicorn's per-instruction count hook and exit check. The count of a block is read from the
 * guest's code in host memory (Thumb: a halfword starts a 32-bit instruction iff its top five bits are 0b11101,
 * 0b11110 or 0b11111).
 *
 * All state lives in a buffer the board allocates (a JavaScript ArrayBuffer) so that JavaScript reads the count
 * with typed-array loads; the layout below is mirrored by native-block-counter.ts and guarded by
 * TLSF_SIM_NATIVE_VERSION.
 */
#include "native-hooks.h"

enum {
  COUNTER_MAX_REGIONS = 16,
  /* Entries of the per-block count cache (a power of two). */
  COUNTER_CACHE_SIZE = 4096,
  /* Set by the hook when it stopped the run at a block start because the block would pass the limit. */
  FLAG_STOPPED_BY_LIMIT = 1,
  /* Set by the board while Unicorn's own count runs the last instructions before the budget. */
  FLAG_PAUSED = 2,
};

struct code_region {
  uint32_t base;
  uint32_t size;
  const uint8_t *host;
  /* Code the guest cannot change (flash, the service page): its blocks' counts may be cached. */
  uint32_t immutable;
};

/*
 * A block's instruction count by (start, size), for blocks in immutable regions. Decoding is a chain of dependent
 * loads (each halfword says where the next instruction starts), ~3 ns an instruction, as much as Unicorn's own
 * count; a hit costs one load and two compares. An all-zero entry never matches (no block has size 0).
 */
struct cached_block {
  uint32_t start;
  uint32_t size;
  uint32_t instructions;
};

/* Every field is a 32-bit word from JavaScript's side (Uint32Array over the same buffer). */
struct block_counter {
  /* Instructions counted in this slice, the whole current block included. */
  uint32_t total;
  /* The slice's limit: a block that would take `total` past it stops the run before its first instruction. */
  uint32_t limit;
  /* Instructions counted in this slice before the current block. */
  uint32_t before;
  uint32_t block_start;
  /* Bytes of the current block; 0 when no block ran in this slice. */
  uint32_t block_size;
  uint32_t flags;
  /* Blocks that ran outside every known code region: their instructions are not counted (the board fails). */
  uint32_t unknown_blocks;
  uint32_t region_count;
  struct code_region regions[COUNTER_MAX_REGIONS];
  struct cached_block cache[COUNTER_CACHE_SIZE];
};

/* The size JavaScript must allocate for the state; checked before use. */
TLSF_SIM_EXPORT int tlsf_sim_block_counter_size(void) { return (int)sizeof(struct block_counter); }

/*
 * Records a region the guest may run code from and the host bytes backing it; `immutable` when nothing writes
 * them during a run. -1 when the table is full.
 */
TLSF_SIM_EXPORT int tlsf_sim_block_counter_add_region(struct block_counter *counter, uint32_t base, uint32_t size,
                                                      const uint8_t *host, int immutable) {
  if (counter->region_count >= COUNTER_MAX_REGIONS) return -1;
  struct code_region *region = &counter->regions[counter->region_count++];
  region->base = base;
  region->size = size;
  region->host = host;
  region->immutable = immutable != 0;
  return 0;
}

static uint32_t instructions_in(const uint8_t *code, uint32_t size) {
  uint32_t count = 0;
  uint32_t offset = 0;
  while (offset < size) {
    uint16_t halfword = (uint16_t)(code[offset] | (code[offset + 1] << 8));
    offset += (halfword & 0xF800) >= 0xE800 ? 4 : 2;
    count++;
  }
  return count;
}

/* The block's instruction count; 0 (and one more unknown block) when it lies in no known region. */
static uint32_t block_instructions(struct block_counter *counter, uint64_t address, uint32_t size) {
  struct cached_block *cached = &counter->cache[(address >> 1) & (COUNTER_CACHE_SIZE - 1)];
  if (cached->start == address && cached->size == size) return cached->instructions;
  for (uint32_t i = 0; i < counter->region_count; i++) {
    const struct code_region *region = &counter->regions[i];
    if (address < region->base || address - region->base + size > region->size) continue;
    uint32_t instructions = instructions_in(region->host + (address - region->base), size);
    if (region->immutable) {
      cached->start = (uint32_t)address;
      cached->size = size;
      cached->instructions = instructions;
    }
    return instructions;
  }
  counter->unknown_blocks++;
  return 0;
}

void tlsf_sim_count_block(uc_engine *uc, struct block_counter *counter, uint64_t address, uint32_t size,
                          int may_stop) {
  if (counter->flags & FLAG_PAUSED) return;
  uint32_t instructions = block_instructions(counter, address, size);
  if (instructions == 0) return;
  /*
   * Stopping here ends the run before the block's first instruction (the exit check at a block's start runs after
   * its block hooks), with the PC on the block, so the block is counted when the next slice runs it. The first
   * block of a slice always runs (progress even when one block is larger than the slice).
   */
  if (may_stop && counter->total != 0 &&
      (counter->total > counter->limit || instructions > counter->limit - counter->total)) {
    counter->flags |= FLAG_STOPPED_BY_LIMIT;
    unicorn.emu_stop(uc);
    return;
  }
  counter->before = counter->total;
  counter->block_start = (uint32_t)address;
  counter->block_size = size;
  counter->total += instructions;
}
