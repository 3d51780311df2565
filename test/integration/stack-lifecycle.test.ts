import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { type StackHandle, startStack } from '../../localstack/stack-control.ts';
import { stackInfoFile, stackInfoSchema, stackLogFile } from '../../localstack/stack-files.ts';
import { isolatedStackEnvironment, processesInGroup } from '../support/isolated-stack.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';

/** Command lines of live processes that name `text` (a stack's data folder): none may be left. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.includes(text)) found.push(command);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

const dataDirs: string[] = [];
async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-lifecycle-'));
  dataDirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the local stack process', () => {
  it('runs Kafka in its own process group, stops leaving no process behind, and reuses its data on restart (less what expired: the TTL sweep)', async () => {
    const dataDir = await newDataDir();
    const env = isolatedStackEnvironment(dataDir);

    const first = await startStack({ attached: true, env });
    const pgid = first.info.pid;
    const members = [...processesInGroup(pgid).values()];
    expect(members.some((command) => command.includes('kafka.Kafka'))).toBe(true);
    expect(members.some((command) => command.includes('stack-daemon'))).toBe(true);
    expect(existsSync(stackInfoFile(dataDir))).toBe(true);
    const { s3 } = stackClients(first.info);
    await s3.send(
      new PutObjectCommand({ Bucket: first.info.datasetBucket, Key: 'kept.txt', Body: 'still here' }),
    );
    s3.destroy();
    // Two state items: one that expired a minute ago, one that expires in an hour.
    const { dynamodb } = stackClients(first.info);
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const [sk, expiresAt] of [
      ['expired', nowSeconds - 60],
      ['alive', nowSeconds + 3600],
    ] as const) {
      await dynamodb.send(
        new PutItemCommand({
          TableName: first.info.stateTable,
          Item: { pk: { S: 'ttl-test' }, sk: { S: sk }, expiresAt: { N: String(expiresAt) } },
        }),
      );
    }
    dynamodb.destroy();

    await first.stop();
    expect([...processesInGroup(pgid).keys()]).toEqual([]);
    expect(existsSync(stackInfoFile(dataDir))).toBe(false);

    const second = await startStack({ attached: true, env });
    try {
      const clients = stackClients(second.info);
      const kept = await clients.s3.send(
        new GetObjectCommand({ Bucket: second.info.datasetBucket, Key: 'kept.txt' }),
      );
      expect(await kept.Body?.transformToString()).toBe('still here');
      clients.s3.destroy();
      // The restarted stack's first TTL sweep deletes what expired while it was down, only that.
      const ttlItems = async () =>
        (
          await clients.dynamodb.send(
            new QueryCommand({
              TableName: second.info.stateTable,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': { S: 'ttl-test' } },
            }),
          )
        ).Items?.map((item) => item.sk?.S) ?? [];
      await pollUntil(async () => ((await ttlItems()).includes('expired') ? undefined : true), {
        timeoutMs: 60_000,
        what: 'the stack to delete the expired state item',
        explain: async () =>
          `items: ${JSON.stringify(await ttlItems())}\n${readFileSync(stackLogFile(dataDir), 'utf8').slice(-2000)}`,
      });
      expect(await ttlItems()).toEqual(['alive']);
      clients.dynamodb.destroy();
    } finally {
      await second.stop();
    }
    expect([...processesInGroup(second.info.pid).keys()]).toEqual([]);
  });

  // Regression test; the bug it caught was: a broker that exited while starting was reported with
  // the last 20 lines of its log, which were only its shutdown (seen in CI on a restart). Fixed by:
  // the message quotes the first ERROR/FATAL lines of that very start (log and JVM output). The
  // cause of that CI failure is fixed in concretePorts (test/unit/localstack/ports.test.ts).
  it('a broker that cannot start says why, from the errors of that start', async () => {
    // Arrange: a stack that ran once (its storage is formatted), restarted with an impossible heap.
    const dataDir = await newDataDir();
    const env = isolatedStackEnvironment(dataDir);
    await (await startStack({ attached: true, env })).stop();

    // Act
    const restart = startStack({ attached: true, env: { ...env, DRIFTLINE_KAFKA_HEAP: '1m' } });

    // Assert
    const error = await restart.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(Error);
    const message = error instanceof Error ? error.message : '';
    expect(message).toMatch(/exited during startup/);
    expect(message).toMatch(/First errors of this start:\n.*(heap|VM)/i);
    expect(processesMentioning(dataDir)).toEqual([]);
  });

  // Regression test; the bug it caught was: the daemon removed stack.json as soon as it began to
  // stop, so a start on the same data folder while the broker was still shutting down went ahead
  // and ran a second broker over the live folder (Kafka does not refuse one: both write the same
  // metadata log, and the older halts on a corrupt record). Fixed by: stack.json goes last.
  it('refuses to start over the data of a stack that is still stopping', async () => {
    // Arrange: a broker slow to shut down (as on a loaded machine): stopped, it answers SIGTERM
    // only once continued, and the daemon waits for it (up to its 15 s grace).
    const dataDir = await newDataDir();
    const env = isolatedStackEnvironment(dataDir);
    const first = await startStack({ attached: true, env });
    const jvm = [...processesInGroup(first.info.pid)].find(([, command]) => command.includes('kafka.Kafka'));
    if (!jvm) throw new Error(`no kafka.Kafka in the stack's process group ${first.info.pid}`);
    process.kill(jvm[0], 'SIGSTOP');
    try {
      process.kill(first.info.pid, 'SIGTERM');
      await pollUntil(
        async () =>
          readFileSync(stackLogFile(dataDir), 'utf8').includes('stopping (SIGTERM)') ? true : undefined,
        { timeoutMs: 30_000, what: 'the first stack daemon to begin stopping (its log)' },
      );

      // Act
      const second = await startStack({ attached: true, env }).then(
        (stack) => stack,
        (failure: unknown) => failure,
      );

      // Assert
      if (!(second instanceof Error)) {
        await (second as StackHandle).stop();
        throw new Error('a second stack started over the data of one still stopping');
      }
      expect(second.message).toMatch(/A stack is already running from .* \(pid \d+\)/);
    } finally {
      process.kill(jvm[0], 'SIGCONT');
      await first.stop();
    }
    expect(processesMentioning(dataDir)).toEqual([]);
  });

  it('stops by itself, Kafka included, when the process that started it is killed', async () => {
    const dataDir = await newDataDir();
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../support/hold-stack.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const firstLine = await new Promise<string>((resolveLine, rejectLine) => {
      createInterface({ input: holder.stdout }).once('line', resolveLine);
      holder.once('exit', (code) => rejectLine(new Error(`holder exited early with code ${code}`)));
    });
    const info = stackInfoSchema.parse(JSON.parse(firstLine));
    expect(processesInGroup(info.pid).size).toBeGreaterThanOrEqual(2);

    holder.kill('SIGKILL');

    await pollUntil(async () => (processesInGroup(info.pid).size === 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `the orphaned stack (process group ${info.pid}) to stop`,
    });
    expect(existsSync(stackInfoFile(dataDir))).toBe(false);
  });

  it('refuses to start with a clear message when a port is taken', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolvePort) =>
      blocker.listen(0, '127.0.0.1', () => {
        const address = blocker.address();
        resolvePort(typeof address === 'object' && address ? address.port : 0);
      }),
    );
    try {
      const env = { ...isolatedStackEnvironment(await newDataDir()), DRIFTLINE_S3_PORT: String(port) };
      await expect(startStack({ attached: true, env })).rejects.toThrow(
        new RegExp(`Port ${port} on 127.0.0.1 \\(S3 emulator\\) is already in use[\\s\\S]*DRIFTLINE_S3_PORT`),
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses to start with a clear message when Java is missing', async () => {
    const env = { ...isolatedStackEnvironment(await newDataDir()), DRIFTLINE_JAVA: '/nonexistent/bin/java' };
    await expect(startStack({ attached: true, env })).rejects.toThrow(
      /Java was not found[\s\S]*DRIFTLINE_KAFKA_BROKERS/,
    );
  });
});
