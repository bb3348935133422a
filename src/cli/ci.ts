import type { SiteComparison } from './baseline.js';
import type { CheckOutcome } from './checks.js';
import { findComparedFigure, formatFigureDelta } from './compared-figures.js';
import { formatBytes, formatPercent } from './units.js';

/** A measured or limit figure in its unit, for tables and XML. */
export function formatFigure(value: number | string, unit: CheckOutcome['unit']): string {
  if (typeof value === 'string') return value;
  if (unit === 'bytes') return formatBytes(value);
  if (unit === 'fraction') return formatPercent(value);
  return String(value);
}

function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 cannot carry most control characters even escaped; firmware output may contain them.
      // eslint-disable-next-line no-control-regex
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the control characters XML 1.0 forbids is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

export interface RunTiming {
  target: string;
  board: string;
  seconds: number;
  output?: string;
  /** The budget entry the run is; outcomes with the same `entry` are its checks. */
  entry?: number;
  /** Shown as the testsuite's <properties>: the figures against the baseline, `peak-used: 4,968 B -> ...`. */
  properties?: [string, string][];
}

/** Outcomes of one run share a testsuite: by budget entry when known, else by target and board. */
function runKeyOf(item: { target: string; board: string; entry?: number }): string {
  return item.entry === undefined ? `${item.target}\u0000${item.board}` : `#${item.entry}`;
}

/**
 * JUnit XML, one testsuite per run (target × board) and one testcase per check, the shape that GitHub, GitLab
 * and Jenkins test reporters read.
 */
export function toJUnit(outcomes: CheckOutcome[], runs: RunTiming[] = []): string {
  const groups = new Map<string, CheckOutcome[]>();
  for (const outcome of outcomes) {
    const key = runKeyOf(outcome);
    const group = groups.get(key) ?? [];
    group.push(outcome);
    groups.set(key, group);
  }
  const failures = outcomes.filter((outcome) => !outcome.pass).length;
  const totalSeconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tlsf-sim check" tests="${outcomes.length}" failures="${failures}" errors="0" time="${totalSeconds.toFixed(3)}">`,
  ];
  for (const group of groups.values()) {
    const { target, board } = group[0]!;
    const run = runs.find((candidate) => runKeyOf(candidate) === runKeyOf(group[0]!));
    const suiteFailures = group.filter((outcome) => !outcome.pass).length;
    const suiteName = escapeXml(`${target} on ${board}`);
    lines.push(
      `  <testsuite name="${suiteName}" tests="${group.length}" failures="${suiteFailures}" errors="0" time="${(run?.seconds ?? 0).toFixed(3)}">`,
    );
    if (run?.properties?.length) {
      lines.push('    <properties>');
      for (const [name, value] of run.properties) {
        lines.push(`      <property name="${escapeXml(name)}" value="${escapeXml(value)}"/>`);
      }
      lines.push('    </properties>');
    }
    for (const outcome of group) {
      const name = outcome.figure === undefined ? outcome.check : `${outcome.check} ${outcome.figure}`;
      const attributes = `classname="tlsf-sim.${escapeXml(target)}.${escapeXml(board)}" name="${name}"`;
      if (outcome.pass) {
        lines.push(`    <testcase ${attributes} time="0"/>`);
      } else {
        lines.push(`    <testcase ${attributes} time="0">`);
        lines.push(
          `      <failure type="${outcome.check}" message="${escapeXml(outcome.summary)}">measured: ${escapeXml(formatFigure(outcome.measured, outcome.unit))}; limit: ${escapeXml(formatFigure(outcome.limit, outcome.unit))}</failure>`,
        );
        lines.push('    </testcase>');
      }
    }
    if (run?.output) lines.push(`    <system-out>${escapeXml(run.output)}</system-out>`);
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function escapeMarkdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * Free text (a check's summary, a file name) as literal markdown: call sites such as `__sfp+0x6e` and C++
 * names would otherwise turn into emphasis, links or HTML in a comment. `>` is left as is: mid-line it is
 * plain text, and summaries use it (`peak used 10 B > max 8 B`); `<` is what opens HTML.
 */
export function escapeMarkdownText(text: string): string {
  return text.replace(/[\\`*_<[\]#~|]/g, (character) => `\\${character}`).replace(/\r?\n/g, ' ');
}

/** A code span that holds any text, backticks included (the fence is one backtick longer than any run inside). */
function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const padded = text.startsWith('`') || text.endsWith('`') ? ` ${text} ` : text;
  return `${fence}${escapeMarkdownCell(padded)}${fence}`;
}

/** Used bytes over one run (html/used-chart.ts), drawn as a mermaid chart under the table. */
export interface MarkdownChart {
  title: string;
  calls: number[];
  used: number[];
}

/** A mermaid `xychart-beta` line of used bytes: GitHub renders it in step summaries and comments. */
export function mermaidUsedChart(chart: MarkdownChart): string {
  const quote = (text: string): string => `"${text.replace(/["\\\r\n]/g, ' ')}"`;
  const highest = Math.max(1, ...chart.used);
  return [
    '```mermaid',
    'xychart-beta',
    `    title ${quote(`${chart.title}: used bytes`)}`,
    `    x-axis ${quote('heap call')} ${chart.calls[0] ?? 0} --> ${chart.calls[chart.calls.length - 1] ?? 0}`,
    `    y-axis ${quote('used bytes')} 0 --> ${highest}`,
    `    line [${chart.used.join(', ')}]`,
    '```',
  ].join('\n');
}

/**
 * The charts folded into one <details> block: a budget of fifty runs would otherwise bury the tables of a
 * pull-request comment under fifty charts. The blank lines around each fence let GitHub render it inside.
 */
export function markdownCharts(charts: MarkdownChart[]): string {
  if (charts.length === 0) return '';
  const count = `${charts.length} run${charts.length === 1 ? '' : 's'}`;
  const lines = ['', '<details>', `<summary>Used bytes over each run (${count})</summary>`];
  for (const chart of charts) lines.push('', mermaidUsedChart(chart));
  lines.push('', '</details>', '');
  return lines.join('\n');
}

/** A run against the baseline, for the markdown report's second table. */
export interface MarkdownComparison {
  target: string;
  board: string;
  /** One cell per compared figure, in the order of the headers; '' where the reports lack the figure. */
  cells: string[];
  /** Whether each cell's figure changed; a column unchanged in every compared run is left out of the table. */
  changed: boolean[];
  /** Whether a max-growth check of the run failed. */
  failed: boolean;
  /** A run the baseline does not have: its cells are its figures alone, and it decides no column. */
  isNew?: boolean;
  /** The call sites that grew since the baseline, most growth first, when the reports carry sites. */
  grownSites?: SiteComparison[];
}

/** Sites per run in the table of sites that grew: the rest are counted in a last row. */
const GROWN_SITES_SHOWN = 5;

function comparisonSection(comparison: {
  baselineFile: string;
  headers: string[];
  runs: MarkdownComparison[];
}): string[] {
  const lines = ['', `#### Against the baseline (${escapeMarkdownText(comparison.baselineFile)})`, ''];
  if (comparison.runs.length === 0) return [...lines, 'No runs.'];
  // The first figure (peak used) always stands; the others where a compared run's figure changed (or every
  // column some run has, when no run was in the baseline: nothing was compared to leave out).
  const compared = comparison.runs.filter((run) => !run.isNew);
  const shown = comparison.headers.flatMap((_header, column) => {
    if (column === 0) return [column];
    const keep =
      compared.length === 0
        ? comparison.runs.some((run) => run.cells[column] !== '')
        : compared.some((run) => run.changed[column]);
    return keep ? [column] : [];
  });
  const unchanged = comparison.headers.filter(
    (_header, column) => !shown.includes(column) && comparison.runs.some((run) => run.cells[column] !== ''),
  );
  lines.push(
    `| | Target | Board | ${shown.map((column) => escapeMarkdownText(comparison.headers[column]!)).join(' | ')} |`,
  );
  lines.push(`|---|---|---|${shown.map(() => '---:').join('|')}|`);
  for (const run of comparison.runs) {
    const cells = [run.target, run.board, ...shown.map((column) => run.cells[column]!)].map(escapeMarkdownText);
    lines.push(`| ${run.failed ? '❌' : run.isNew ? '🆕' : '✅'} | ${cells.join(' | ')} |`);
  }
  if (unchanged.length > 0) {
    const runs = compared.length === comparison.runs.length ? 'every run' : 'every run in the baseline';
    lines.push('', `Unchanged in ${runs}: ${unchanged.map(escapeMarkdownText).join(', ')}.`);
  }
  const grown = comparison.runs.filter((run) => run.grownSites !== undefined && run.grownSites.length > 0);
  if (grown.length > 0) {
    lines.push('', 'Call sites that grew at the peak:', '');
    lines.push('| Target | Board | Call site | At the peak | Baseline | Change |', '|---|---|---|---:|---:|---:|');
    for (const run of grown) {
      const sites = run.grownSites!;
      for (const site of sites.slice(0, GROWN_SITES_SHOWN)) {
        const held = `${formatBytes(site.bytes)} in ${site.blocks} block${site.blocks === 1 ? '' : 's'}`;
        const before = site.oldBytes === null ? 'new' : formatBytes(site.oldBytes);
        const change = site.delta === null ? '' : formatFigureDelta(site.delta, 'bytes');
        const row = [
          escapeMarkdownText(run.target),
          escapeMarkdownText(run.board),
          codeSpan(site.site) + (site.source ? ` (${escapeMarkdownText(site.source)})` : ''),
          held,
          before,
        ];
        lines.push(`| ${[...row, change].join(' | ')} |`);
      }
      if (sites.length > GROWN_SITES_SHOWN) {
        const more = sites.length - GROWN_SITES_SHOWN;
        const row = [escapeMarkdownText(run.target), escapeMarkdownText(run.board), `${more} more`, '', '', ''];
        lines.push(`| ${row.join(' | ')} |`);
      }
    }
  }
  return lines;
}

/**
 * A summary for a pull-request comment or $GITHUB_STEP_SUMMARY: a table of the checks, each failure's reason
 * (which names the call sites holding the heap), and with a baseline a table of old -> new per figure and one
 * of the call sites that grew. Charts and the RAM table are appended by the caller.
 */
export function toMarkdown(
  outcomes: CheckOutcome[],
  comparison?: { baselineFile: string; headers: string[]; runs: MarkdownComparison[] },
): string {
  const passed = outcomes.filter((outcome) => outcome.pass).length;
  const verdict =
    passed === outcomes.length ? 'all checks pass' : `${outcomes.length - passed} of ${outcomes.length} checks failed`;
  const lines = [
    `### tlsf-sim heap budget: ${verdict}`,
    '',
    '| | Target | Board | Check | Measured | Limit |',
    '|---|---|---|---|---:|---:|',
  ];
  const checkName = (outcome: CheckOutcome): string => {
    if (outcome.figure === undefined) return outcome.check;
    return `${outcome.check} (${findComparedFigure(outcome.figure)?.label ?? outcome.figure})`;
  };
  for (const outcome of outcomes) {
    lines.push(
      `| ${outcome.pass ? '✅' : '❌'} | ${escapeMarkdownText(outcome.target)} | ${escapeMarkdownText(outcome.board)} | ` +
        `${escapeMarkdownText(checkName(outcome))} | ` +
        `${escapeMarkdownText(formatFigure(outcome.measured, outcome.unit))} | ${escapeMarkdownText(formatFigure(outcome.limit, outcome.unit))} |`,
    );
  }
  const failures = outcomes.filter((outcome) => !outcome.pass);
  if (failures.length > 0) {
    lines.push('', 'Why they failed:', '');
    for (const outcome of failures) {
      const where = `${outcome.target} on ${outcome.board}, ${checkName(outcome)}`;
      lines.push(`- ${escapeMarkdownText(where)}: ${escapeMarkdownText(outcome.summary)}`);
    }
  }
  if (comparison !== undefined) lines.push(...comparisonSection(comparison));
  return `${lines.join('\n')}\n`;
}

/** GitHub workflow-command escaping: data and property values have different rules. */
function escapeAnnotationData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeAnnotationProperty(text: string): string {
  return escapeAnnotationData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** `::error` lines for failed checks, shown by GitHub Actions on the run page (and on the budget file if given). */
export function toGithubAnnotations(outcomes: CheckOutcome[], budgetFile?: string): string[] {
  return outcomes
    .filter((outcome) => !outcome.pass)
    .map((outcome) => {
      const properties = [`title=${escapeAnnotationProperty(`tlsf-sim ${outcome.check}`)}`];
      if (budgetFile) properties.unshift(`file=${escapeAnnotationProperty(budgetFile)}`);
      return `::error ${properties.join(',')}::${escapeAnnotationData(`${outcome.target} on ${outcome.board}: ${outcome.summary}`)}`;
    });
}
