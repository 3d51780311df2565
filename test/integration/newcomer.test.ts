/**
 * The newcomer's path, literally: a clone of the repository without the built dashboard (as git
 * gives it: frontend/dist is ignored), its packages installed, then `npm start` and nothing else.
 * The demo must build the dashboard itself and answer `/` with it, beside the API; Ctrl-C must stop
 * everything it started, the local cloud included.
 *
 * The clone is the working tree's files as git would clone them (tracked and new, not ignored), so
 * the test checks the code being changed, not the last commit; `node_modules` is linked rather than
 * installed again (`npm ci` is what .ci/run checks). Ports are free ones; the Kafka jars come from
 * the cache this machine already has, everything else starts empty.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { EMBEDDED_KAFKA_VERSION, loadStackConfig } from '../../shared/config.ts';
import { type DemoProcess, startProcess } from '../support/demo-process.ts';
import { processesInGroup } from '../support/isolated-stack.ts';
import { pollUntil, withTimeout } from '../support/stack-clients.ts';

const execFileAsync = promisify(execFile);
const replaysSchema = z.object({ replays: z.array(z.object({ key: z.string() })) });

/** Copies what `git clone` of the working tree would hold into `dest`. */
async function cloneWorkingTree(dest: string): Promise<void> {
  const { stdout } = await execFileAsync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: PROJECT_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  for (const file of stdout.split('\0').filter((name) => name !== '')) {
    const source = join(PROJECT_ROOT, file);
    if (!existsSync(source)) continue; // deleted in the working tree
    await mkdir(dirname(join(dest, file)), { recursive: true });
    await copyFile(source, join(dest, file));
  }
}

describe('a fresh clone: npm ci, npm start', () => {
  let workDir = '';
  let clone = '';
  let demo: DemoProcess | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'driftline-newcomer-'));
    clone = join(workDir, 'driftline');
    await cloneWorkingTree(clone);
    await symlink(join(PROJECT_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    // A cache of its own, with this machine's Kafka jars if it has them (else they are resolved).
    const cache = join(workDir, 'cache');
    await mkdir(cache);
    const jars = join(loadStackConfig().cacheDir, `kafka-${EMBEDDED_KAFKA_VERSION}`);
    if (existsSync(jars)) await symlink(jars, join(cache, `kafka-${EMBEDDED_KAFKA_VERSION}`), 'dir');
    expect(existsSync(join(clone, 'frontend', 'dist'))).toBe(false);
    demo = startProcess({
      command: 'npm',
      args: ['start'],
      cwd: clone,
      // Nothing of this machine's own settings: the defaults, but free ports and the cache above.
      dropInherited: /^DRIFTLINE_/,
      env: {
        DRIFTLINE_CACHE_DIR: cache,
        DRIFTLINE_KAFKA_PORT: '0',
        DRIFTLINE_KAFKA_CONTROLLER_PORT: '0',
        DRIFTLINE_S3_PORT: '0',
        DRIFTLINE_DYNAMODB_PORT: '0',
        DRIFTLINE_KINESIS_PORT: '0',
        DRIFTLINE_API_PORT: '0',
      },
    });
  });

  afterAll(async () => {
    await demo?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('builds the dashboard, serves it at / beside the API, and stops everything on Ctrl-C', {
    timeout: 300_000,
  }, async () => {
    if (!demo) throw new Error('npm start did not start');
    const explain = () => `--- npm start output (last lines):\n${demo?.tail(60) ?? ''}`;
    const apiUrl = await demo.apiUrl(240_000);
    const output = () => demo?.lines.join('\n') ?? '';
    expect(output()).toMatch(/Building the dashboard \(frontend\/dist is missing\)… \d+\.\d s/);
    expect(output()).toMatch(new RegExp(`dashboard {2}${apiUrl}/\\n`));

    const page = await fetch(`${apiUrl}/`);
    expect(page.status, explain()).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<title>driftline dashboard<\/title>/);
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const bundle = await fetch(`${apiUrl}${script}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    // The build's record of its sources stays private.
    expect((await fetch(`${apiUrl}/.vite/driftline-sources.json`)).status).toBe(404);
    const health = await fetch(`${apiUrl}/api/v1/health`);
    expect(health.status, explain()).toBe(200);
    // The demo's own file is being replayed.
    await pollUntil(
      async () => {
        const body = replaysSchema.parse(await (await fetch(`${apiUrl}/api/v1/replays`)).json());
        return body.replays.some((replay) => /^dt\/demo-\d{8}-\d{6}\/telescope-1\.csv$/.test(replay.key))
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the demo file to be replaying', explain },
    );

    const stackPid = Number(/Stack running \(pid (\d+)/.exec(output())?.[1]);
    expect(processesInGroup(stackPid).size, explain()).toBeGreaterThan(0);
    demo.interrupt();
    await withTimeout(demo.exited, 90_000, () => `npm start did not stop:\n${explain()}`);
    expect(output()).toMatch(/\nerr\| Stopped\b/);
    await pollUntil(async () => (processesInGroup(stackPid).size === 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `the local cloud (process group ${stackPid}) to stop`,
      explain,
    });
  });
});
