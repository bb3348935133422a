import { hex, mapRequest, type RequestMapping } from '../allocator/index.js';
import type { ElfImage, HeapEvent } from '../board/index.js';
import { drawRegion, regionsOf } from './heap-map.js';
import { callerSymbol, classText } from './learn-run.js';
import type { HeapBlock, HeapReplay, HeapSnapshot, SizeClass } from './replay.js';
import { formatBytes } from './units.js';

// What one heap call did, in TLSF's terms (size class, search class, the list a block came from, split,
// merge), worked out by comparing walks of the replayed heap before and after the call: `step` prints it.

interface BlockRef {
  address: number;
  header: number;
  blockSize: number;
  class: SizeClass | null;
}

export interface StepFacts {
  call: number;
  op: Exclude<HeapEvent['op'], 'mark'>;
  args: number[];
  result: number;
  caller: number;
  callerSymbol: string | null;
  /** The request as TLSF maps it (allocations only). */
  request: (RequestMapping & { class: SizeClass; searchClass: SizeClass }) | null;
  /** The free block the allocation came from, before the call. */
  taken: (BlockRef & { listLength: number; wasListHead: boolean; fromSearchClass: boolean }) | null;
  /** Free blocks that would have fitted but sat in the request's own class, which the search skips. */
  skippedFits: number;
  /** The block returned (after the call). */
  block: BlockRef | null;
  /** Free blocks split off the taken block and filed (after the call). */
  remainders: BlockRef[];
  /** The block a free (or realloc's release) gave back, before the call. */
  released: BlockRef | null;
  /** Its free neighbours merged into it, and the resulting free block. */
  coalesced: { previous: number | null; next: number | null; merged: BlockRef } | null;
  /** realloc only: 'in-place' (grown or shrunk where it was) or 'moved'. */
  realloc: 'in-place' | 'moved' | 'failed' | null;
  /** realloc in place: bytes taken from the free block after it. */
  grewInto: BlockRef | null;
  largestFreeBefore: number;
  usedAfter: number;
  miniMap: string;
  explanation: string[];
}

function ref(block: HeapBlock): BlockRef {
  return { address: block.address, header: block.header, blockSize: block.blockSize, class: block.sizeClass };
}

function requestedBytes(event: HeapEvent): number | null {
  const [a = 0, b = 0] = event.args;
  switch (event.op) {
    case 'malloc':
      return a;
    case 'calloc':
      return a * b;
    case 'memalign':
      return b;
    case 'realloc':
      return a === 0 || b !== 0 ? b : null;
    default:
      return null;
  }
}

function classLess(a: SizeClass, b: SizeClass): boolean {
  return a.fl < b.fl || (a.fl === b.fl && a.sl < b.sl);
}

/** What one call did, from the heap's walk and stored lists before and after it. */
export function analyseStep(
  replay: HeapReplay,
  event: HeapEvent,
  before: HeapSnapshot,
  after: HeapSnapshot,
  image: ElfImage | null,
  width: number,
): StepFacts {
  const byHeaderBefore = new Map(before.blocks.map((block) => [block.header, block]));
  const byHeaderAfter = new Map(after.blocks.map((block) => [block.header, block]));
  const containing = (snapshot: HeapSnapshot, address: number): HeapBlock | undefined =>
    snapshot.blocks.find((block) => address >= block.header && address < block.header + block.blockSize);
  const unchanged = (block: HeapBlock): boolean => {
    const old = byHeaderBefore.get(block.header);
    return old !== undefined && old.blockSize === block.blockSize && old.used === block.used;
  };
  const facts: StepFacts = {
    call: event.call,
    op: event.op as StepFacts['op'],
    args: [...event.args],
    result: event.result,
    caller: event.caller & ~1,
    callerSymbol: callerSymbol(image, event.caller),
    request: null,
    taken: null,
    skippedFits: 0,
    block: null,
    remainders: [],
    released: null,
    coalesced: null,
    realloc: null,
    grewInto: null,
    largestFreeBefore: before.largestFree,
    usedAfter: after.usedBytes,
    miniMap: '',
    explanation: [],
  };
  const say = (line: string): void => void facts.explanation.push(line);
  const [argument0 = 0, argument1 = 0] = event.args;
  const size = requestedBytes(event);
  const releasing =
    event.op === 'free'
      ? argument0
      : event.op === 'realloc' &&
          argument0 !== 0 &&
          (event.result !== 0 || argument1 === 0) &&
          event.result !== argument0
        ? argument0
        : 0;
  const allocating = event.op !== 'free' && event.op !== 'mark' && size !== null;

  if (allocating && size !== null) {
    try {
      const mapping = mapRequest(size, { align: replay.geometry.align, slLog2: replay.geometry.slLog2 });
      facts.request = {
        ...mapping,
        class: { fl: mapping.firstLevelIndex, sl: mapping.secondLevelIndex },
        searchClass: { fl: mapping.searchFirstLevel, sl: mapping.searchSecondLevel },
      };
    } catch {
      facts.request = null; // beyond any pool: the allocator refuses it outright
    }
  }
  const request = facts.request;
  const inPlace = event.op === 'realloc' && argument0 !== 0 && event.result === argument0;
  if (request && inPlace) {
    say(
      `needs a ${formatBytes(request.adjustedSize)} block (${size} + 4-byte header, rounded to ${replay.geometry.align}); realloc first tries to resize the block where it is`,
    );
  } else if (request) {
    const own = `class ${classText(request.class)} (${formatBytes(request.classMin)}..${formatBytes(request.classMax)})`;
    const layout = replay.tlsf.layout;
    const search =
      request.adjustedSize > layout.maxBlockSize || request.searchFirstLevel >= layout.flCount
        ? `that is beyond the largest block this heap can file (${formatBytes(layout.maxBlockSize)}, rows 0..${layout.flCount - 1}): refused without a search`
        : event.op === 'memalign'
          ? 'memalign looks for a block large enough to move the payload up to the alignment as well'
          : request.adjustedSize < replay.geometry.smallBlockSize
            ? `below ${formatBytes(replay.geometry.smallBlockSize)} classes are exact, so the search starts in it`
            : request.searchSize === request.adjustedSize
              ? 'it is the first size of its class, so every block there fits: the search starts in it'
              : `search from ${formatBytes(request.searchSize)}, class ${classText(request.searchClass)}, where every block fits`;
    say(
      `needs a ${formatBytes(request.adjustedSize)} block (${size} + 4-byte header, rounded to ${replay.geometry.align}), ${own}; ${search}`,
    );
  }

  if (event.op === 'realloc' && argument0 !== 0 && argument1 !== 0)
    facts.realloc = event.result === 0 ? 'failed' : inPlace ? 'in-place' : 'moved';

  if (allocating && event.result !== 0) {
    const block = byHeaderAfter.get(event.result - 4);
    if (block) {
      facts.block = ref(block);
      if (inPlace) {
        const old = byHeaderBefore.get(block.header)!;
        if (block.blockSize > old.blockSize) {
          const next = byHeaderBefore.get(old.header + old.blockSize);
          if (next && !next.used) {
            facts.grewInto = ref(next);
            say(
              `grows in place from ${formatBytes(old.blockSize)} to ${formatBytes(block.blockSize)}, taking ${formatBytes(block.blockSize - old.blockSize)} of the free block after it (${formatBytes(next.blockSize)}, class ${classText(next.sizeClass!)})`,
            );
          }
        } else if (block.blockSize < old.blockSize) {
          say(`shrinks in place from ${formatBytes(old.blockSize)} to ${formatBytes(block.blockSize)}`);
        } else {
          say(`stays in place: the ${formatBytes(old.blockSize)} block already fits`);
        }
      } else {
        if (facts.realloc === 'moved') {
          const old = byHeaderBefore.get(argument0 - 4);
          const next = old ? byHeaderBefore.get(old.header + old.blockSize) : undefined;
          const why = !next
            ? 'it ends its pool'
            : next.used
              ? 'the block after it is used'
              : `the free block after it (${formatBytes(next.blockSize)}) is too small`;
          say(`cannot grow in place (${why}): a new block is allocated, the data copied, the old block freed`);
        }
        let skippedExample: HeapBlock | null = null;
        const taken = containing(before, block.header);
        if (taken && !taken.used) {
          const list = before.freeLists.find(
            (candidate) => candidate.fl === taken.sizeClass!.fl && candidate.sl === taken.sizeClass!.sl,
          );
          const fromSearchClass = request !== null && classText(taken.sizeClass!) === classText(request.searchClass);
          facts.taken = {
            ...ref(taken),
            listLength: list?.blocks.length ?? 0,
            wasListHead: list?.blocks[0] === taken.header,
            fromSearchClass,
          };
          if (request) {
            const skipped = before.blocks.filter(
              (candidate) =>
                !candidate.used &&
                candidate.blockSize >= request.adjustedSize &&
                classLess(candidate.sizeClass!, request.searchClass),
            );
            facts.skippedFits = skipped.length;
            skippedExample = skipped[0] ?? null;
          }
          const why =
            event.op === 'memalign'
              ? 'the payload inside it moved up to the alignment'
              : fromSearchClass
                ? 'the search class itself was non-empty'
                : `${classText(taken.sizeClass!)} is the first non-empty class at or above ${request ? classText(request.searchClass) : 'the search class'} (two bit scans of the bitmaps)`;
          say(
            `takes ${facts.taken.wasListHead ? 'the head of' : 'a block from'} list ${classText(taken.sizeClass!)} (${facts.taken.listLength} block${facts.taken.listLength === 1 ? '' : 's'}): free block ${hex(taken.address)} of ${formatBytes(taken.blockSize)}; ${why}`,
          );
          if (facts.skippedFits > 0 && skippedExample) {
            say(
              `good fit, not best fit: ${facts.skippedFits === 1 ? 'a free block' : `${facts.skippedFits} free blocks`} in the request's own class ${classText(request!.class)} would have fitted (${hex(skippedExample.address)}, ${formatBytes(skippedExample.blockSize)}), but that class may also hold blocks too small, so the search starts above it`,
            );
          }
        }
      }
      // Remainders: free blocks new since the call, touching the returned block.
      for (const candidate of after.blocks) {
        if (candidate.used || unchanged(candidate)) continue;
        if (
          candidate.header === block.header + block.blockSize ||
          candidate.header + candidate.blockSize === block.header
        )
          facts.remainders.push(ref(candidate));
      }
      for (const remainder of facts.remainders) {
        const side = remainder.header > block.header ? 'after' : 'before';
        say(
          `split: ${formatBytes(block.blockSize)} used, the ${formatBytes(remainder.blockSize)} ${side} it filed as a free block in class ${classText(remainder.class!)}`,
        );
      }
      if (facts.remainders.length === 0 && facts.taken && request) {
        const leftover = facts.taken.blockSize - request.adjustedSize;
        say(
          leftover <= 0
            ? 'no split: an exact fit'
            : `no split: the ${formatBytes(leftover)} beyond ${formatBytes(request.adjustedSize)} is less than a minimum block (${replay.geometry.minBlockSize} B), so the whole ${formatBytes(facts.taken.blockSize)} block is used`,
        );
      }
    }
  } else if (allocating && event.result === 0) {
    if (facts.realloc === 'failed')
      say('fails: no block is large enough and the block cannot grow in place; the old block stays');
    else if (!request)
      say(
        `fails (returns NULL): ${event.op === 'calloc' ? `${argument0} × ${argument1} = ${(argument0 * argument1).toLocaleString('en-US')} B` : `${size} B`} is larger than any heap can hold`,
      );
    else if (
      request.adjustedSize > replay.tlsf.layout.maxBlockSize ||
      request.searchFirstLevel >= replay.tlsf.layout.flCount
    )
      say('fails (returns NULL): no block of this heap can ever be that large');
    else
      say(
        `fails (returns NULL): no free list at or above the search class is non-empty; the largest free block is ${formatBytes(before.largestFree)}`,
      );
  }

  if (releasing !== 0) {
    const released = byHeaderBefore.get(releasing - 4);
    if (released) {
      facts.released = ref(released);
      const merged = containing(after, released.header);
      if (merged && !merged.used) {
        const previous = released.header > merged.header ? released.header - merged.header : null;
        const nextBytes = merged.header + merged.blockSize - (released.header + released.blockSize);
        facts.coalesced = { previous, next: nextBytes > 0 ? nextBytes : null, merged: ref(merged) };
        const parts = [
          previous !== null ? `the free block before it (${formatBytes(previous)})` : '',
          nextBytes > 0 ? `the free block after it (${formatBytes(nextBytes)})` : '',
        ].filter(Boolean);
        const prefix = event.op === 'realloc' ? 'the old block ' : '';
        say(
          `${prefix}${hex(released.address)} (${formatBytes(released.blockSize)}) is released; ${parts.length > 0 ? `merged with ${parts.join(' and ')}` : 'no free neighbour to merge with'}: free block ${hex(merged.address)} of ${formatBytes(merged.blockSize)} filed in class ${classText(merged.sizeClass!)}`,
        );
      }
    }
  }
  if (event.op === 'free' && argument0 === 0) say('free(NULL) does nothing');

  // The block this call returned, else the bytes it gave back (the merged free block can be most of the heap).
  const highlight = facts.block ?? facts.released;
  const main = regionsOf(replay)[0]!;
  const scale = Math.ceil((main.end - main.start) / width / 4) * 4;
  facts.miniMap = drawRegion(main, after.blocks, scale, highlight);
  return facts;
}
