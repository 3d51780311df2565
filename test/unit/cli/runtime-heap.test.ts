import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heapBoundedArgs, RUNTIME_HEAP_LIMIT_MIB } from '../../../localstack/runtime-heap.ts';
import { runCli } from './run-cli.ts';

const script = '/project/localstack/driftline.mjs';

describe('heapBoundedArgs: which commands run in a child with a bounded heap', () => {
  it('runs demo and bench under the bound, with the node flags and arguments they were given', () => {
    expect(
      heapBoundedArgs({ script, argv: ['bench', '--only', 'sf'], execArgv: ['--trace-gc'], nodeOptions: '' }),
    ).toEqual([
      `--max-old-space-size=${RUNTIME_HEAP_LIMIT_MIB}`,
      '--trace-gc',
      script,
      'bench',
      '--only',
      'sf',
    ]);
    expect(heapBoundedArgs({ script, argv: ['demo'], execArgv: [], nodeOptions: undefined })).toEqual([
      `--max-old-space-size=${RUNTIME_HEAP_LIMIT_MIB}`,
      script,
      'demo',
    ]);
  });

  it.each([
    ['another command', ['analyze', 'sf', 'file.json'], [], undefined],
    ['no command', [], [], undefined],
    ['help', ['demo', '--help'], [], undefined],
    ['a limit in NODE_OPTIONS', ['demo'], [], '--import x --max-old-space-size=512'],
    ['a limit as a node flag', ['bench'], ['--max_old_space_size=512'], undefined],
  ])('runs here, unbounded or as the person set it: %s', (_, argv, execArgv, nodeOptions) => {
    expect(heapBoundedArgs({ script, argv, execArgv, nodeOptions })).toBeUndefined();
  });
});

describe('driftline bench/demo: the process that does the work has the bounded heap', () => {
  let dir = '';
  let probe = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-heap-'));
    probe = join(dir, 'probe.mjs');
    // Imported by every Node process of the command (NODE_OPTIONS is inherited): says its heap limit.
    await writeFile(
      probe,
      "import v8 from 'node:v8';\n" +
        "process.stderr.write('heap-limit ' + v8.getHeapStatistics().heap_size_limit / 1048576 + '\\n');\n",
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function limitsOf(stderr: string): number[] {
    return [...stderr.matchAll(/^heap-limit (\d+(?:\.\d+)?)$/gm)].map((match) => Number(match[1]));
  }

  it('re-runs bench in a child under the bound, and gives back its exit code', async () => {
    const run = await runCli(['bench', '--only', 'nothing'], { NODE_OPTIONS: `--import ${probe}` });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--only takes');
    const [parent, child, ...more] = limitsOf(run.stderr);
    expect(more, run.stderr).toEqual([]);
    // heap_size_limit is the old space's limit plus the young generation's.
    expect(child, run.stderr).toBeGreaterThanOrEqual(RUNTIME_HEAP_LIMIT_MIB);
    expect(child, run.stderr).toBeLessThan(RUNTIME_HEAP_LIMIT_MIB + 100);
    expect(parent, run.stderr).toBeGreaterThan(child ?? 0);
  });

  it("keeps the person's own limit, in one process", async () => {
    const run = await runCli(['bench', '--only', 'nothing'], {
      NODE_OPTIONS: `--import ${probe} --max-old-space-size=400`,
    });

    expect(run.code).toBe(2);
    const limits = limitsOf(run.stderr);
    expect(limits, run.stderr).toHaveLength(1);
    expect(limits[0], run.stderr).toBeGreaterThanOrEqual(400);
  });
});
