import { createHash } from 'node:crypto';
import { InputError, quoteInput } from './errors.js';

// Sharded budgets: `--shard i/n` runs a deterministic slice of a budget's entries, so a CI job matrix can
// split one budget across machines; `tlsf-sim merge` puts the slices back together (merge-command.ts).

export interface ShardSpec {
  /** 1-based, as CI matrices and GitLab's CI_NODE_INDEX count. */
  index: number;
  count: number;
}

/** More shards than this is a typo, not a CI matrix (GitLab's `parallel:` stops at 200). */
export const MAX_SHARDS = 1000;

function readShardNumber(text: string, what: string, where: string): number {
  if (!/^\d{1,4}$/.test(text)) throw new InputError(`${where}: ${quoteInput(text)} is not a whole number (${what})`);
  return Number(text);
}

/**
 * `--shard i/n`, or `--shard auto` for GitLab's CI_NODE_INDEX / CI_NODE_TOTAL. Shards count from 1:
 * `--shard 1/3`, `2/3`, `3/3`.
 */
export function parseShardSpec(text: string, env: NodeJS.ProcessEnv): ShardSpec {
  let index: number;
  let count: number;
  if (text.trim() === 'auto') {
    const indexText = env.CI_NODE_INDEX;
    const countText = env.CI_NODE_TOTAL;
    if (indexText === undefined || countText === undefined) {
      throw new InputError(
        '--shard auto: CI_NODE_INDEX and CI_NODE_TOTAL are not both set (GitLab sets them for a job with `parallel: N`); give --shard i/n',
      );
    }
    index = readShardNumber(indexText.trim(), 'the shard, from 1', '--shard auto: CI_NODE_INDEX');
    count = readShardNumber(countText.trim(), 'the number of shards', '--shard auto: CI_NODE_TOTAL');
  } else {
    const match = /^\s*(\S+?)\s*\/\s*(\S+?)\s*$/.exec(text);
    if (!match) throw new InputError(`--shard: ${quoteInput(text)} is not i/n (e.g. 2/4) or auto`);
    index = readShardNumber(match[1]!, 'the shard, from 1', '--shard');
    count = readShardNumber(match[2]!, 'the number of shards', '--shard');
  }
  if (count < 1 || count > MAX_SHARDS) throw new InputError(`--shard: ${count} shards; give 1 to ${MAX_SHARDS}`);
  if (index < 1 || index > count) {
    throw new InputError(`--shard: shard ${index} of ${count} does not exist; shards count 1 to ${count}`);
  }
  return { index, count };
}

/**
 * Which shard (0-based) runs each entry. With costs (the instructions each entry took in the baseline),
 * longest first onto the least-loaded shard; without, every entry costs the same, which deals them out in
 * turn. An entry whose cost is unknown (new since the baseline) counts as the known entries' mean. Ties go
 * to the lower index, so every shard computes the same assignment.
 */
export function assignShards(costs: (number | undefined)[], count: number): number[] {
  const known = costs.filter((cost): cost is number => cost !== undefined);
  const fallback = known.length === 0 ? 1 : known.reduce((sum, cost) => sum + cost, 0) / known.length;
  const filled = costs.map((cost) => cost ?? fallback);
  const order = filled.map((_, entry) => entry).sort((a, b) => filled[b]! - filled[a]! || a - b);
  const load = new Array<number>(count).fill(0);
  const assignment = new Array<number>(costs.length).fill(0);
  for (const entry of order) {
    let lightest = 0;
    for (let shard = 1; shard < count; shard++) if (load[shard]! < load[lightest]!) lightest = shard;
    assignment[entry] = lightest;
    load[lightest]! += filled[entry]!;
  }
  return assignment;
}

/** The entries (indices into the whole budget, ascending) a shard runs. */
export function shardEntries(assignment: number[], spec: ShardSpec): number[] {
  return assignment.flatMap((shard, entry) => (shard === spec.index - 1 ? [entry] : []));
}

/**
 * A fingerprint of what a budget runs and holds to, so that `merge` can refuse reports of different budgets
 * (or of one budget with different flags). Built from the entries as the reports name them, not from file
 * paths, so shards checked out in different directories agree.
 */
export function budgetDigest(entries: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
}
