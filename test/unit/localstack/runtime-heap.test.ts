/**
 * The runtime's heap bound (runtime-heap.ts): `driftline demo` and `driftline bench` run again in a
 * child under RUNTIME_HEAP_MIB unless the person set a bound of their own, and the child's output
 * and exit code are the command's.
 */
import { describe, expect, it } from 'vitest';
import { hasHeapBound, RUNTIME_HEAP_MIB } from '../../../localstack/runtime-heap.ts';
import { runCli } from '../cli/run-cli.ts';

describe('hasHeapBound', () => {
  it('sees a bound on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(hasHeapBound([], '')).toBe(false);
    expect(hasHeapBound(['--max-old-space-size=512'], '')).toBe(true);
    expect(hasHeapBound([], '--enable-source-maps --max_old_space_size=300')).toBe(true);
    expect(hasHeapBound(['--max-semi-space-size=16'], '--inspect')).toBe(false);
  });
});

describe('a command that hosts the runtime', () => {
  it('runs under the bound, with its output and exit code passed through', async () => {
    const run = await runCli(['bench', '--only', 'core', '--quick'], { NODE_OPTIONS: '' });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    const limit = Number(/runtime heap limit (\d+) MiB/.exec(run.out)?.[1]);
    // V8's limit is the old space plus its young generation (48 MiB on 64-bit Node 20).
    expect(limit).toBeGreaterThanOrEqual(RUNTIME_HEAP_MIB);
    expect(limit).toBeLessThan(RUNTIME_HEAP_MIB + 100);
  }, 120_000);

  it("keeps the person's own bound", async () => {
    const run = await runCli(['bench', '--only', 'core', '--quick'], {
      NODE_OPTIONS: '--max-old-space-size=400',
    });
    expect(run.code).toBe(0);
    const limit = Number(/runtime heap limit (\d+) MiB/.exec(run.out)?.[1]);
    expect(limit).toBeGreaterThanOrEqual(400);
    expect(limit).toBeLessThan(500);
  }, 120_000);

  it('passes a usage error through: its message and exit code 2', async () => {
    const run = await runCli(['bench', '--only', 'nonsense'], { NODE_OPTIONS: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--only takes core, e2e, latency, sf or kinesis, not "nonsense"');
  }, 60_000);
});
