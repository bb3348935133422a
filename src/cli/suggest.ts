/**
 * " (did you mean "packet-pool"?)" for a mistyped name, or '' when no known name is close. Used for every
 * name the CLI looks up (scenarios, boards, parameters); commander makes the same offer for commands and options.
 */
export function didYouMean(given: string, known: readonly string[]): string {
  const best = closestName(given, known);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** The known name nearest to `given` by edit distance, if it is near enough to be a likely typo. */
export function closestName(given: string, known: readonly string[]): string | undefined {
  const wanted = given.trim().toLowerCase();
  // Names longer than any known one by far are not typos; this also bounds the work on hostile input.
  if (wanted === '' || wanted.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(wanted, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  // A third of the name may be wrong (at least one edit): "pakcet-pool" is offered "packet-pool", "esp32" nothing.
  const allowed = Math.max(1, Math.floor(wanted.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (the commonest typo). */
export function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  let beforePrevious = new Array<number>(width).fill(0);
  let previous = Array.from({ length: width }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(width).fill(0);
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + substitution);
      const transposed = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1];
      if (transposed) distance = Math.min(distance, beforePrevious[j - 2]! + 1);
      current[j] = distance;
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length]!;
}
