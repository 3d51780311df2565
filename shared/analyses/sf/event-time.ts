/**
 * Event time of a call: `call_date_time`, e.g. `2018-12-31T23:57:00.000`, a local San Francisco wall
 * clock time without a zone. It is read as if it were UTC (`Date.UTC` of its fields), consistently, so
 * that event time is a plain monotone number, windows fall on round wall-clock minutes, and the result
 * does not depend on the machine's time zone. Consequences, documented rather than hidden: ISO strings
 * printed in summaries end in `Z` but mean San Francisco local time; across the DST change of
 * 2018-11-04 the repeated hour 01:00–02:00 folds onto itself (as it does in the source data, which
 * cannot tell the two hours apart either).
 *
 * Accepted: `YYYY-MM-DD`, `T` or a space, `HH:MM`, optional `:SS`, optional fraction (milliseconds
 * kept), optional zone `Z` or `±HH:MM` (honoured when present; the DataSF data has none).
 */

const PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Consecutive calls often share a minute: the last answer is remembered. */
let lastText = '';
let lastMs = Number.NaN;

/** Milliseconds since the epoch (wall clock read as UTC), or NaN when the text is not such a time. */
export function parseEventTime(text: string): number {
  if (text !== lastText) {
    lastMs = parseUncached(text);
    lastText = text;
  }
  return lastMs;
}

function parseUncached(text: string): number {
  const match = PATTERN.exec(text);
  if (!match) return Number.NaN;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const fraction = match[7] ?? '';
  const millisecond = fraction === '' ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const daysInMonth = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > daysInMonth) return Number.NaN;
  const wallClock = Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
  return wallClock - zoneOffsetMs(match[8]);
}

/** `Z` / absent → 0; `+HH:MM` → that offset east of UTC. */
function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2, 4));
  return sign * (hours * 60 + minutes) * 60_000;
}

/** ISO text of an event time (UTC notation of the wall clock, see the file comment), or null. */
export function eventTimeText(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
