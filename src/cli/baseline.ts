import { createHash } from 'node:crypto';
import { hex } from '../allocator/index.js';
import type { CheckOutcome, GrowthLimits } from './checks.js';
import {
  COMPARED_FIGURES,
  formatFigureDelta,
  formatFigureValue,
  formatGrowth,
  growthOf,
  type RunDocument,
} from './compared-figures.js';
import { readJsonReport, reportRuns } from './report-file.js';
import { formatBytes, formatPercent } from './units.js';

// Regressions against a baseline: a previous `check --json` or `run --json` (typically the main branch's),
// its runs matched to this check's by target, board and firmware parameters; the old -> new figures, the
// `max-growth` checks, and the call sites that hold the heap at its peak, old and new.

export interface Baseline {
  /** The file as the user named it, echoed into reports. */
  file: string;
  /**
   * A fingerprint of its runs: shards of one check must compare with the same baseline (it also balances
   * them), and a file of the same name fetched at another time may hold another one.
   */
  digest: string;
  runs: RunDocument[];
}

export function loadBaseline(path: string, shownAs = path): Baseline {
  const document = readJsonReport(path, 'baseline');
  const runs = reportRuns(document, path, 'baseline');
  const digest = createHash('sha256').update(JSON.stringify(runs)).digest('hex').slice(0, 16);
  return { file: shownAs, digest, runs };
}

/** What identifies a run across reports: target, board and firmware parameters (in name order). */
export function runKey(run: RunDocument): string {
  const params = (run.params ?? {}) as Record<string, unknown>;
  const sorted = Object.keys(params)
    .sort()
    .map((name) => `${name}=${String(params[name])}`);
  // The heap is part of what ran: the same target under best-fit is another entry (reports before --allocator: TLSF).
  const allocator = String(run.allocator ?? 'tlsf');
  return `${String(run.target)}\u0000${String(run.board)}\u0000${allocator}\u0000${sorted.join(',')}`;
}

/**
 * The baseline run for each current run, or undefined for an entry the baseline does not have. A key that
 * occurs more than once (the same workload at two heap sizes) is matched occurrence by occurrence, in order.
 */
export function matchBaseline(baseline: Baseline, runs: RunDocument[]): (RunDocument | undefined)[] {
  const byKey = new Map<string, RunDocument[]>();
  for (const run of baseline.runs) {
    const key = runKey(run);
    byKey.set(key, [...(byKey.get(key) ?? []), run]);
  }
  const used = new Map<string, number>();
  return runs.map((run) => {
    const key = runKey(run);
    const occurrence = used.get(key) ?? 0;
    used.set(key, occurrence + 1);
    return byKey.get(key)?.[occurrence];
  });
}

/** One call site's share of the heap at the peak, as the run report's `peakSites` lists it. */
export interface PeakSite {
  site: number | string;
  symbol?: string;
  offset?: number;
  file?: string;
  line?: number;
  blocks: number;
  bytes: number;
}

export interface SiteComparison {
  site: string;
  /** The source line of the call, when the firmware has DWARF line tables: `packet.c:42`. */
  source?: string;
  bytes: number;
  blocks: number;
  /** The baseline's bytes at the site; null when the baseline has no such site (or no sites at all). */
  oldBytes: number | null;
  delta: number | null;
}

export interface FigureComparison {
  old: number;
  new: number;
  delta: number;
}

/** A run against its baseline run, as the check report's `runs[i].baseline` carries it. */
export interface Comparison {
  figures: Record<string, FigureComparison>;
  /** Present when the run report has `peakSites`; sorted by bytes now, sites gone since the baseline last. */
  sites?: SiteComparison[];
}

function peakSites(run: RunDocument | undefined): PeakSite[] | undefined {
  const sites = run?.peakSites;
  if (!Array.isArray(sites)) return undefined;
  return sites.filter(
    (site): site is PeakSite =>
      site !== null && typeof site === 'object' && typeof site.bytes === 'number' && typeof site.blocks === 'number',
  );
}

/** `packet_alloc+0x1a`: symbol and offset when known (stable across builds more often than an address). */
export function siteName(site: PeakSite): string {
  if (site.symbol) return site.offset === undefined ? site.symbol : `${site.symbol}+0x${site.offset.toString(16)}`;
  return typeof site.site === 'number' ? hex(site.site) : String(site.site);
}

function compareSites(current: PeakSite[], old: PeakSite[] | undefined): SiteComparison[] {
  const oldBytes = new Map<string, number>();
  for (const site of old ?? []) oldBytes.set(siteName(site), (oldBytes.get(siteName(site)) ?? 0) + site.bytes);
  const compared: SiteComparison[] = [...current]
    .sort((a, b) => b.bytes - a.bytes)
    .map((site) => {
      const name = siteName(site);
      const before = old === undefined ? null : (oldBytes.get(name) ?? 0);
      const delta = before === null ? null : site.bytes - before;
      const compared: SiteComparison = { site: name, bytes: site.bytes, blocks: site.blocks, oldBytes: before, delta };
      if (site.file) compared.source = site.line === undefined ? site.file : `${site.file}:${site.line}`;
      return compared;
    });
  const present = new Set(compared.map((site) => site.site));
  for (const [name, bytes] of oldBytes) {
    if (!present.has(name)) compared.push({ site: name, bytes: 0, blocks: 0, oldBytes: bytes, delta: -bytes });
  }
  return compared;
}

export function compareRuns(current: RunDocument, old: RunDocument): Comparison {
  const figures: Record<string, FigureComparison> = {};
  for (const figure of COMPARED_FIGURES) {
    const before = figure.read(old);
    const now = figure.read(current);
    if (before === undefined || now === undefined) continue;
    figures[figure.key] = { old: before, new: now, delta: now - before };
  }
  const comparison: Comparison = { figures };
  const sites = peakSites(current);
  if (sites !== undefined) comparison.sites = compareSites(sites, peakSites(old));
  return comparison;
}

/** The sites of a run without a baseline, in the comparison's shape, so failing messages can name them. */
export function sitesOf(run: RunDocument): SiteComparison[] | undefined {
  const sites = peakSites(run);
  return sites === undefined ? undefined : compareSites(sites, undefined);
}

/** The sites that hold more at the peak than in the baseline, most growth first. */
export function grownSites(sites: SiteComparison[]): SiteComparison[] {
  return sites.filter((site) => (site.delta ?? 0) > 0).sort((a, b) => (b.delta ?? 0) - (a.delta ?? 0));
}

/** "packet_alloc+0x1a holds 8,192 B in 6 blocks, +2,048 B against the baseline" for up to three sites. */
export function describeSites(sites: SiteComparison[], order: 'bytes' | 'growth' = 'bytes'): string {
  const chosen = order === 'growth' ? grownSites(sites) : sites.filter((site) => site.bytes > 0);
  return chosen
    .slice(0, 3)
    .map((site) => {
      const where = site.source === undefined ? site.site : `${site.site} (${site.source})`;
      const held = `${where} holds ${formatBytes(site.bytes)} in ${site.blocks} block${site.blocks === 1 ? '' : 's'}`;
      return site.delta === null ? held : `${held}, ${formatFigureDelta(site.delta, 'bytes')} against the baseline`;
    })
    .join('; ');
}

/**
 * The `max-growth` checks of one run: one per limited figure the reports both carry. A run the baseline does
 * not have is new: one passing check says so rather than failing a gate on a workload just added.
 */
export function growthOutcomes(
  target: string,
  board: string,
  comparison: Comparison | null,
  limits: GrowthLimits,
): CheckOutcome[] {
  if (comparison === null) {
    return [
      {
        target,
        board,
        check: 'max-growth',
        pass: true,
        measured: 'new',
        limit: 'baseline',
        unit: 'result',
        summary: 'new: not in the baseline, growth not checked',
      },
    ];
  }
  const outcomes: CheckOutcome[] = [];
  for (const figure of COMPARED_FIGURES) {
    const allowed = limits[figure.key];
    const compared = comparison.figures[figure.key];
    if (allowed === undefined || compared === undefined) continue;
    const growth = growthOf(compared.old, compared.new, figure.unit);
    const pass = growth <= allowed;
    const change = `${formatFigureValue(compared.old, figure.unit)} -> ${formatFigureValue(compared.new, figure.unit)}`;
    const allowedText = figure.unit === 'fraction' ? `${(allowed * 100).toFixed(1)} points` : formatPercent(allowed);
    const grew = formatGrowth(growth, figure.unit);
    let summary = `${figure.label} ${change} (${grew}) ${pass ? '<=' : '>'} max growth ${allowedText}`;
    if (!pass && comparison.sites !== undefined) {
      const grown = describeSites(comparison.sites, 'growth');
      if (grown) summary += `; grew: ${grown}`;
    }
    outcomes.push({
      target,
      board,
      check: 'max-growth',
      figure: figure.key,
      pass,
      // JSON has no Infinity: growth from zero is measured as the text the summary shows.
      measured: growth === Infinity ? 'from zero' : growth,
      limit: allowed,
      unit: growth === Infinity ? 'result' : 'fraction',
      summary,
    });
  }
  return outcomes;
}

/** A failing max-peak check names the sites that hold the heap at the peak (with their growth when known). */
export function withPeakSites(outcomes: CheckOutcome[], sites: SiteComparison[] | undefined): CheckOutcome[] {
  if (sites === undefined) return outcomes;
  const text = describeSites(sites);
  if (!text) return outcomes;
  return outcomes.map((outcome) =>
    outcome.check === 'max-peak' && !outcome.pass ? { ...outcome, summary: `${outcome.summary}; ${text}` } : outcome,
  );
}

/** One line of old -> new per compared figure, for the text report. */
export function formatComparison(comparison: Comparison | null): string {
  if (comparison === null) return 'new: not in the baseline';
  const parts = COMPARED_FIGURES.flatMap((figure) => {
    const compared = comparison.figures[figure.key];
    if (compared === undefined) return [];
    const change = compared.delta === 0 ? 'unchanged' : formatFigureDelta(compared.delta, figure.unit);
    const before = formatFigureValue(compared.old, figure.unit);
    return [`${figure.label} ${before} -> ${formatFigureValue(compared.new, figure.unit)} (${change})`];
  });
  return parts.join(', ');
}

/** Figures for a cell: `4,968 B -> 5,400 B (+432 B)`, or the new figure alone for a run new to the baseline. */
export function comparisonCell(comparison: Comparison | null | undefined, key: string, run: RunDocument): string {
  const figure = COMPARED_FIGURES.find((candidate) => candidate.key === key)!;
  const compared = comparison?.figures[key];
  if (compared === undefined) {
    const value = figure.read(run);
    return value === undefined ? '' : `${formatFigureValue(value, figure.unit)}${comparison === null ? ' (new)' : ''}`;
  }
  const change = compared.delta === 0 ? '±0' : formatFigureDelta(compared.delta, figure.unit);
  return `${formatFigureValue(compared.old, figure.unit)} -> ${formatFigureValue(compared.new, figure.unit)} (${change})`;
}

/** The instructions a baseline run took: the expected cost of an entry when shards are balanced. */
export function expectedCost(old: RunDocument | undefined): number | undefined {
  const instructions = old?.instructions;
  return typeof instructions === 'number' && Number.isFinite(instructions) && instructions > 0
    ? instructions
    : undefined;
}
