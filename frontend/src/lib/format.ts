const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatCount(value: number): string {
  return integer.format(value);
}

export function formatRate(value: number): string {
  return value >= 100 ? integer.format(value) : oneDecimal.format(value);
}

export function formatMs(value: number | null): string {
  if (value === null) return '–';
  if (value >= 10_000) return `${oneDecimal.format(value / 1000)} s`;
  return `${integer.format(value)} ms`;
}

/** "3 s ago", "2 min ago", "1 h ago". */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}

/** mm:ss, or h:mm:ss (shared with the command line's progress bars). */
export { formatDuration } from '../../../shared/core/format.ts';

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}
