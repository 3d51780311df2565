/**
 * What `driftline reconcile` prints: per run a table of quantities (live, offline, equal or where they
 * differ), the runs it could not compare and why, and a last line with the counts; or, with --json,
 * one JSON object per run. Pure: checks in, text out.
 */
import type { Json } from '../../shared/core/analysis.ts';
import { isJsonObject } from '../../shared/core/analysis.ts';
import type { QuantityCheck, RunCheck, RunKind } from '../../shared/pipeline/reconcile.ts';

const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

/** A value in a table cell: numbers grouped, structures by their size, long text cut. */
export function cell(value: Json | undefined): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'number') return numberFormat.format(value);
  if (typeof value === 'string')
    return value.length > 24 ? `${JSON.stringify(value.slice(0, 21))}…` : JSON.stringify(value);
  if (Array.isArray(value))
    return `[${numberFormat.format(value.length)} ${value.length === 1 ? 'entry' : 'entries'}]`;
  if (isJsonObject(value)) {
    const fields = Object.keys(value).length;
    return `{${fields} ${fields === 1 ? 'field' : 'fields'}}`;
  }
  return String(value);
}

function verdict(quantity: QuantityCheck): string {
  const inside = quantity.values > 1 ? ` (${numberFormat.format(quantity.values)} values)` : '';
  if (quantity.equal) return `equal${inside}`;
  const first = quantity.first;
  const where =
    first && quantity.values > 1
      ? `; first ${first.path}: live ${cell(first.live)}, offline ${cell(first.offline)}`
      : '';
  const difference =
    typeof quantity.live === 'number' && typeof quantity.offline === 'number'
      ? ` by ${numberFormat.format(quantity.live - quantity.offline)}`
      : '';
  const howMany =
    quantity.values > 1
      ? ` in ${numberFormat.format(quantity.differing)} of ${numberFormat.format(quantity.values)} values`
      : '';
  return `DIFFERS${difference}${howMany}${where}`;
}

function runHeading(check: RunCheck): string {
  const where = check.object ? `s3://${check.object.bucket}/${check.object.key}` : 'object unknown';
  return `${check.run}  (${check.analysis}, ${where})`;
}

function quantityTable(quantities: readonly QuantityCheck[]): string[] {
  const nameWidth = Math.max(8, ...quantities.map((quantity) => quantity.name.length));
  const liveCells = quantities.map((quantity) => cell(quantity.live));
  const offlineCells = quantities.map((quantity) => cell(quantity.offline));
  const liveWidth = Math.max(4, ...liveCells.map((text) => text.length));
  const offlineWidth = Math.max(7, ...offlineCells.map((text) => text.length));
  const line = (name: string, live: string, offline: string, result: string) =>
    `    ${name.padEnd(nameWidth)}  ${live.padStart(liveWidth)}  ${offline.padStart(offlineWidth)}  ${result}`.trimEnd();
  return [
    line('quantity', 'live', 'offline', ''),
    ...quantities.map((quantity, index) =>
      line(quantity.name, liveCells[index] ?? '', offlineCells[index] ?? '', verdict(quantity)),
    ),
  ];
}

/** The lines of one run. */
export function describeRun(check: RunCheck): string[] {
  const heading = runHeading(check);
  switch (check.kind) {
    case 'running':
      return [
        `${heading}`,
        `  still running: ${numberFormat.format(check.liveRows)} rows counted so far ` +
          `(${numberFormat.format(check.rowsSent)} sent at its last checkpoint), nothing to compare yet`,
      ];
    case 'aggregating':
      return [
        `${heading}`,
        `  replayed (${numberFormat.format(check.rowsSent)} rows sent), ${numberFormat.format(check.liveRows)} counted so far: ` +
          'still being aggregated, nothing to compare yet',
      ];
    case 'refused':
      return [`${heading}`, `  refused before any row was sent, nothing to compare: ${check.message}`];
    case 'object-gone':
      return [
        `${heading}`,
        `  OBJECT GONE: ${check.reason}; the state holds ${numberFormat.format(check.liveRows)} rows of this run that cannot be checked`,
      ];
    case 'compared': {
      const differing = check.quantities.filter((quantity) => !quantity.equal).length;
      const result = check.equal
        ? `EQUAL (${check.quantities.length} quantities)`
        : `DIFFERENT (${differing} of ${check.quantities.length} quantities)`;
      const lines = [
        heading,
        `  ${numberFormat.format(check.rows)} rows, ${check.order === 'event-time' ? 'in event-time order' : 'in file order'}, ` +
          `${check.partitions} partition${check.partitions === 1 ? '' : 's'}: ${result}`,
        ...quantityTable(check.quantities),
      ];
      if (check.oneStream === undefined) {
        lines.push('  One partition: the live state is one stream, as `driftline analyze` folds it.');
      } else if (check.oneStream.length === 0) {
        lines.push(
          '  Merged over its partitions, every quantity equals one stream of the same rows (`driftline analyze`).',
        );
      } else {
        lines.push(
          '  As one stream of the same rows (`driftline analyze`), these differ from the merged partitions, and why:',
        );
        for (const note of check.oneStream) {
          const values =
            typeof note.oneStream === 'number' || typeof note.partitioned === 'number'
              ? ` (one stream ${cell(note.oneStream)}, partitions ${cell(note.partitioned)})`
              : '';
          lines.push(
            `    ${note.name}${values}: ${note.why ?? 'NOT EXPLAINED by the analysis: a bug to report'}`,
          );
        }
      }
      return lines;
    }
  }
}

const KIND_WORDS: Readonly<Record<RunKind, string>> = {
  compared: 'compared',
  running: 'still running',
  aggregating: 'still being aggregated',
  refused: 'refused (nothing sent)',
  'object-gone': 'whose object is gone',
};

/** The last line: how many runs of each kind, and the verdict. */
export function summaryLine(checks: readonly RunCheck[]): string {
  if (checks.length === 0)
    return 'reconcile: no replayed object to check (replay one, e.g. `driftline replay FILE`).';
  const comparedChecks = checks.filter((check) => check.kind === 'compared');
  const equal = comparedChecks.filter((check) => check.equal).length;
  const parts = [`${equal} equal`, `${comparedChecks.length - equal} different`];
  for (const kind of ['running', 'aggregating', 'object-gone', 'refused'] as const) {
    const count = checks.filter((check) => check.kind === kind).length;
    if (count > 0) parts.push(`${count} ${KIND_WORDS[kind]}`);
  }
  return `reconcile: ${checks.length} run${checks.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** 1: a difference; 3: none, but something could not be checked (or nothing was); 0: all equal. */
export function exitCodeOf(checks: readonly RunCheck[]): number {
  if (checks.some((check) => check.kind === 'compared' && !check.equal)) return 1;
  const compared = checks.filter((check) => check.kind === 'compared').length;
  const uncheckable = checks.some((check) => ['running', 'aggregating', 'object-gone'].includes(check.kind));
  return uncheckable || compared === 0 ? 3 : 0;
}

/** A scalar as it is; a structure left out (the table says its size; --json keeps output small). */
function scalarOrUndefined(value: Json | undefined): Json | undefined {
  return value === null || typeof value !== 'object' ? value : undefined;
}

/** One run as a JSON object (--json): verdicts, counts and scalar values, never whole lists. */
export function runJson(check: RunCheck): Record<string, Json> {
  const base: Record<string, Json> = {
    run: check.run,
    analysis: check.analysis,
    kind: check.kind,
    bucket: check.object?.bucket ?? null,
    key: check.object?.key ?? null,
    liveRows: check.liveRows,
  };
  switch (check.kind) {
    case 'running':
    case 'aggregating':
      return { ...base, rowsSent: check.rowsSent };
    case 'refused':
      return { ...base, message: check.message };
    case 'object-gone':
      return { ...base, reason: check.reason };
    case 'compared':
      return {
        ...base,
        equal: check.equal,
        order: check.order,
        rows: check.rows,
        partitions: check.partitions,
        quantities: check.quantities.map((quantity) => ({
          name: quantity.name,
          equal: quantity.equal,
          values: quantity.values,
          differing: quantity.differing,
          ...(scalarOrUndefined(quantity.live) === undefined
            ? {}
            : { live: scalarOrUndefined(quantity.live) ?? null }),
          ...(scalarOrUndefined(quantity.offline) === undefined
            ? {}
            : { offline: scalarOrUndefined(quantity.offline) ?? null }),
          ...(quantity.first
            ? {
                first: {
                  path: quantity.first.path,
                  live: scalarOrUndefined(quantity.first.live) ?? null,
                  offline: scalarOrUndefined(quantity.first.offline) ?? null,
                },
              }
            : {}),
        })),
        oneStream:
          check.oneStream === undefined
            ? null
            : check.oneStream.map((note) => ({
                name: note.name,
                why: note.why ?? null,
                partitioned: scalarOrUndefined(note.partitioned) ?? null,
                oneStream: scalarOrUndefined(note.oneStream) ?? null,
              })),
      };
  }
}
