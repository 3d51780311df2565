/**
 * The live status on the terminal (the demo's, and `replay --follow`'s). On a TTY the same few lines
 * are redrawn in place at each tick, with two hand-written ANSI escapes (a library would be a
 * dependency for that); elsewhere (a pipe, a CI log) the lines are printed as they are, at most
 * every 10 s, and `final` lines always.
 */

const PLAIN_OUTPUT_INTERVAL_MS = 10_000;

/** CSI n F: cursor to the start of the line n lines up. */
const cursorUpLines = (count: number) => `\x1b[${count}F`;
/** CSI 2 K: erase the whole line. */
const ERASE_LINE = '\x1b[2K';

export class LiveDisplay {
  readonly interactive: boolean;
  private drawnLines = 0;
  private lastPlainOutput = 0;

  constructor(private readonly output: NodeJS.WriteStream = process.stdout) {
    this.interactive = output.isTTY === true;
  }

  /** Shows `lines`; `final`: the last state, printed even between two plain-output intervals. */
  show(lines: readonly string[], final = false): void {
    if (this.interactive) {
      if (this.drawnLines > 0) this.output.write(cursorUpLines(this.drawnLines));
      this.output.write(`${lines.map((line) => `${ERASE_LINE}${line}`).join('\n')}\n`);
      this.drawnLines = lines.length;
    } else if (final || Date.now() - this.lastPlainOutput > PLAIN_OUTPUT_INTERVAL_MS) {
      this.lastPlainOutput = Date.now();
      this.output.write(`${lines.join('\n')}\n`);
    }
  }
}
