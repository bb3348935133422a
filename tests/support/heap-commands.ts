// The random heap-call sequences the model tests drive every heap with (allocator-model, heaps-model): mostly
// small requests, some medium and a few large, with frees, reallocs, memaligns and callocs mixed in.
import fc from 'fast-check';

export type Command =
  | { op: 'malloc'; size: number }
  | { op: 'free'; pick: number }
  | { op: 'realloc'; pick: number; size: number }
  | { op: 'memalign'; alignLog2: number; size: number }
  | { op: 'calloc'; count: number; size: number };

export const sizeArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 600 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 6000 }) },
);

export const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('malloc' as const), size: sizeArbitrary }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('free' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('realloc' as const), pick: fc.nat(), size: sizeArbitrary }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('memalign' as const),
      alignLog2: fc.integer({ min: 0, max: 12 }),
      size: sizeArbitrary,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('calloc' as const),
      count: fc.integer({ min: 0, max: 40 }),
      size: fc.integer({ min: 0, max: 100 }),
    }),
  },
);
