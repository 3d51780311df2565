/** Formatting shared by the command line and the dashboard. */

/** A duration as mm:ss, or h:mm:ss; `unknown` when there is none (an ETA not known yet). */
export function formatDuration(seconds: number | null, unknown = '–'): string {
  if (seconds === null || !Number.isFinite(seconds)) return unknown;
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  const mmss = `${String(minutes).padStart(2, '0')}:${String(rest).padStart(2, '0')}`;
  return hours > 0 ? `${hours}:${mmss}` : mmss;
}
