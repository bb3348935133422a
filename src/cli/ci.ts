import type { CheckOutcome } from './checks.js';
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

/** A run against the baseline, for the markdown report's second table. */
export interface MarkdownComparison {
  target: string;
  board: string;
  /** One cell per compared figure, in COMPARED_FIGURES order. */
  cells: string[];
  /** "packet_alloc+0x1a holds ..." for the sites that grew, when the reports carry sites. */
  grownSites?: string;
}

/**
 * A summary table for a pull-request comment or $GITHUB_STEP_SUMMARY; with a baseline, a second table of
 * old -> new per figure and the call sites that grew; a chart of used bytes per run if given.
 */
export function toMarkdown(
  outcomes: CheckOutcome[],
  comparison?: { baselineFile: string; headers: string[]; runs: MarkdownComparison[] },
  charts: MarkdownChart[] = [],
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
  for (const outcome of outcomes) {
    const check = outcome.figure === undefined ? outcome.check : `${outcome.check} (${outcome.figure})`;
    lines.push(
      `| ${outcome.pass ? '✅' : '❌'} | ${escapeMarkdownCell(outcome.target)} | ${escapeMarkdownCell(outcome.board)} | ${check} | ` +
        `${escapeMarkdownCell(formatFigure(outcome.measured, outcome.unit))} | ${escapeMarkdownCell(formatFigure(outcome.limit, outcome.unit))} |`,
    );
  }
  if (comparison !== undefined) {
    lines.push('', `#### Against the baseline (${escapeMarkdownCell(comparison.baselineFile)})`, '');
    lines.push(`| Target | Board | ${comparison.headers.join(' | ')} |`);
    lines.push(`|---|---|${comparison.headers.map(() => '---:').join('|')}|`);
    for (const run of comparison.runs) {
      const cells = [run.target, run.board, ...run.cells].map(escapeMarkdownCell);
      lines.push(`| ${cells.join(' | ')} |`);
    }
    const grown = comparison.runs.filter((run) => run.grownSites);
    if (grown.length > 0) {
      lines.push('', 'Call sites that grew at the peak:', '');
      for (const run of grown) {
        lines.push(
          `- ${escapeMarkdownCell(run.target)} on ${escapeMarkdownCell(run.board)}: ${escapeMarkdownCell(run.grownSites!)}`,
        );
      }
    }
  }
  for (const chart of charts) lines.push('', mermaidUsedChart(chart));
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
