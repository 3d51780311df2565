/**
 * What a local pipeline runtime was doing, for the message of a failed test: the replays' progress,
 * the invocation counters and the runtime's last log lines. A CI failure then says why it waited
 * in vain (a replay that gave up, a batch retried for ever) instead of only "timed out".
 */
import type { RunningRuntime } from '../../localstack/runtime.ts';

export function runtimeDiagnostics(limit = 200) {
  const lines: string[] = [];
  let runtime: RunningRuntime | undefined;
  return {
    /** Pass as the runtime's `log`. */
    log: (line: string) => {
      lines.push(`${new Date().toISOString()} ${line}`);
      if (lines.length > limit) lines.splice(0, lines.length - limit);
    },
    /** Tells the diagnostics which runtime to ask (once it has started). */
    attach: (running: RunningRuntime) => {
      runtime = running;
    },
    /** For pollUntil / pollWhileProgressing's `explain`. */
    explain: async (): Promise<string> => {
      if (!runtime) return `runtime not started; its log:\n${lines.join('\n')}`;
      const replays = await fetch(`${runtime.apiUrl}/api/v1/replays`)
        .then((response) => response.text())
        .catch((error: unknown) => `(the API did not answer: ${String(error)})`);
      return [
        `replays: ${replays}`,
        `runtime stats: ${JSON.stringify(runtime.stats())}`,
        `runtime log (last ${limit} lines):`,
        lines.length === 0 ? '(nothing logged)' : lines.join('\n'),
      ].join('\n');
    },
  };
}
