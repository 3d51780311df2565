/**
 * The demo's live status on the terminal. On a TTY the same few lines are redrawn in place at each
 * tick, with two hand-written ANSI escapes (a library would be a dependency for that); elsewhere (a
 * pipe, a CI log) the lines are printed as they are, at most every 10 s.
 */

const PLAIN_OUTPUT_INTERVAL_MS = 10_000;

/** CSI n F: cursor to the start of the line n lines up. */
const cursorUpLines = (count: number) => `\x1b[${count}F`;
/** CSI 2 K: erase the whole line. */
const ERASE_LINE = '\x1b[2K';

export class LiveDisplay {
  readonly interactive = process.stdout.isTTY === true;
  private drawnLines = 0;
  private lastPlainOutput = 0;

  show(lines: readonly string[]): void {
    if (this.interactive) {
      if (this.drawnLines > 0) process.stdout.write(cursorUpLines(this.drawnLines));
      process.stdout.write(`${lines.map((line) => `${ERASE_LINE}${line}`).join('\n')}\n`);
      this.drawnLines = lines.length;
    } else if (Date.now() - this.lastPlainOutput > PLAIN_OUTPUT_INTERVAL_MS) {
      this.lastPlainOutput = Date.now();
      console.log(lines.join('\n'));
    }
  }
}
