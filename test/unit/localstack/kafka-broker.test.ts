import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkJava, ensureKafkaJars, newClusterId } from '../../../localstack/kafka-broker.ts';

// Stand-ins for `java` and `mvn` that print what the real ones print in each failure situation.
const dirs: string[] = [];
async function fakeCommand(script: string): Promise<{ command: string; cacheDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fake-'));
  dirs.push(dir);
  const command = join(dir, 'fake');
  await writeFile(command, `#!/bin/sh\n${script}\n`);
  await chmod(command, 0o755);
  return { command, cacheDir: join(dir, 'cache') };
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

// Regression test; the bug it caught was: a random cluster id that began with '-' (1 in 64) was
// taken for an option by Kafka's storage tool ("argument --cluster-id/-t: expected one argument"),
// and the stack did not start (seen once in CI). Fixed by: drawing again, as Kafka's Uuid does.
describe('newClusterId', () => {
  it("never starts with '-', even when the random bytes would give one", () => {
    // Arrange: 0xf8 as the first byte encodes to '-' in base64url.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    let drawn = 0;

    // Act
    const id = newClusterId(() => draws[drawn++] ?? Buffer.alloc(16, 0x02));

    // Assert
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(id.startsWith('-')).toBe(false);
    expect(drawn).toBe(3);
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});

describe('checkJava', () => {
  it('accepts Java 17 and reports its major version', async () => {
    const { command } = await fakeCommand(`echo 'openjdk version "17.0.15" 2025-04-15' >&2`);
    await expect(checkJava(command)).resolves.toBe(17);
  });

  it('refuses Java 11 and Java 8 with what to do', async () => {
    const java11 = await fakeCommand(`echo 'openjdk version "11.0.2" 2019-01-15' >&2`);
    await expect(checkJava(java11.command)).rejects.toThrow(
      /Java 11 found, but Kafka .* needs Java 17[\s\S]*DRIFTLINE_JAVA/,
    );
    const java8 = await fakeCommand(`echo 'java version "1.8.0_292"' >&2`);
    await expect(checkJava(java8.command)).rejects.toThrow(/Java 8 found/);
  });

  it('explains how to install Java when there is none', async () => {
    await expect(checkJava('/nonexistent/java')).rejects.toThrow(/Java was not found[\s\S]*apt-get install/);
  });
});

describe('ensureKafkaJars', () => {
  const log = () => {};

  it('explains how to install Maven when there is none', async () => {
    const { cacheDir } = await fakeCommand('exit 0');
    await expect(ensureKafkaJars({ cacheDir, mavenCommand: '/nonexistent/mvn', log })).rejects.toThrow(
      /Maven was not found[\s\S]*apt-get install -y maven[\s\S]*DRIFTLINE_KAFKA_BROKERS/,
    );
  });

  it('says Maven Central could not be reached, with Maven’s own words, when the download fails', async () => {
    const { command, cacheDir } = await fakeCommand(
      `echo '[ERROR] Failed to execute goal: Could not transfer artifact org.apache.kafka:kafka_2.13:pom:3.9.1 from/to central: Unknown host repo.maven.apache.org'; exit 1`,
    );
    await expect(ensureKafkaJars({ cacheDir, mavenCommand: command, log })).rejects.toThrow(
      /Could not download the Kafka .* jars from Maven Central[\s\S]*Unknown host repo\.maven\.apache\.org/,
    );
  });

  it('refuses a Maven run that produced no Kafka jar instead of starting a broken broker', async () => {
    // A shell script, not a template: ${…} is shell parameter expansion.
    const { command, cacheDir } = await fakeCommand(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax on purpose.
      'for a in "$@"; do case "$a" in -DoutputDirectory=*) mkdir -p "${a#-DoutputDirectory=}"; touch "${a#-DoutputDirectory=}/other.jar";; esac; done',
    );
    await expect(ensureKafkaJars({ cacheDir, mavenCommand: command, log })).rejects.toThrow(
      /holds no kafka_2\.13 jar/,
    );
  });
});
