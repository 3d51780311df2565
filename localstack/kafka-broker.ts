/**
 * The embedded Apache Kafka broker: one KRaft node (broker + controller) run by the machine's Java
 * from the pinned release's jars, which Maven resolves from Maven Central into a cache folder
 * outside git on first use. No Docker, no Kafka download script, no ZooKeeper.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EMBEDDED_KAFKA_VERSION } from '../shared/config.ts';
import { StackError } from './stack-error.ts';

const execFileAsync = promisify(execFile);

/** slf4j binding the Kafka distribution ships with (Kafka 3.x logs through log4j 1 / reload4j). */
const SLF4J_RELOAD4J_VERSION = '1.7.36';

export function kafkaLibsDir(cacheDir: string): string {
  return join(cacheDir, `kafka-${EMBEDDED_KAFKA_VERSION}`, 'libs');
}

/** Java 17+ must be on the PATH (or DRIFTLINE_JAVA); returns its major version. */
export async function checkJava(javaCommand: string): Promise<number> {
  let output: string;
  try {
    const result = await execFileAsync(javaCommand, ['-version']);
    output = `${result.stdout}${result.stderr}`;
  } catch (error) {
    throw new StackError(
      `Java was not found (tried \`${javaCommand} -version\`). The embedded Kafka broker needs a JDK or JRE 17+.\n` +
        '  Install one (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17),\n' +
        '  set DRIFTLINE_JAVA to its `java`, or use an existing Kafka with DRIFTLINE_KAFKA_BROKERS=host:port.',
      { cause: error },
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  const first = Number(match?.[1] ?? 0);
  // Java 8 and older report "1.8.0_…".
  const major = first === 1 ? Number(match?.[2] ?? 0) : first;
  if (major < 17) {
    throw new StackError(
      `Java ${major || 'of unknown version'} found, but Kafka ${EMBEDDED_KAFKA_VERSION} needs Java 17 or newer.\n` +
        '  Install a newer JDK/JRE and put it first on the PATH, or set DRIFTLINE_JAVA.',
    );
  }
  return major;
}

function pomFor(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by driftline: resolves the Apache Kafka ${version} broker's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>driftline.local</groupId>
  <artifactId>embedded-kafka</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_RELOAD4J_VERSION}</version></dependency>
  </dependencies>
</project>
`;
}

/** What to do when Maven failed: install it, fix network access, or read what it said. */
function mavenFailure(error: unknown, mavenCommand: string): StackError {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') {
    return new StackError(
      `Maven was not found (tried \`${mavenCommand}\`). It resolves the Kafka ${EMBEDDED_KAFKA_VERSION} jars once.\n` +
        '  Install it (Debian/Ubuntu: apt-get install -y maven; macOS: brew install maven), set DRIFTLINE_MAVEN,\n' +
        '  or use an existing Kafka with DRIFTLINE_KAFKA_BROKERS=host:port.',
      { cause: error },
    );
  }
  const output = error instanceof Error && 'stdout' in error ? `${String(error.stdout)}` : '';
  const unreachable =
    /Could not transfer|Unknown host|UnknownHost|Connection refused|timed out|resolve dependencies/i.test(
      output,
    );
  return new StackError(
    unreachable
      ? `Could not download the Kafka ${EMBEDDED_KAFKA_VERSION} jars from Maven Central. Check network access (or Maven's\n` +
          '  proxy/mirror settings in ~/.m2/settings.xml) and try again, or use an existing Kafka with\n' +
          `  DRIFTLINE_KAFKA_BROKERS=host:port. Maven said:\n${tail(output, 12)}`
      : `Maven failed to resolve the Kafka ${EMBEDDED_KAFKA_VERSION} jars:\n${tail(output, 20)}`,
    { cause: error },
  );
}

/** Has Maven copy the pom's runtime dependencies into `outputDir`. */
export async function copyDependencies(mavenCommand: string, pom: string, outputDir: string): Promise<void> {
  try {
    await execFileAsync(
      mavenCommand,
      [
        '-B',
        '-q',
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${outputDir}`,
        '-DincludeScope=runtime',
      ],
      { maxBuffer: 32 * 1024 * 1024 },
    );
  } catch (error) {
    throw mavenFailure(error, mavenCommand);
  }
}

/** The jars Maven resolved; refuses a folder without Kafka's own jar. */
async function resolvedJars(staging: string, workDir: string): Promise<string[]> {
  const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar'));
  if (!jars.some((name) => name.startsWith(`kafka_2.13-${EMBEDDED_KAFKA_VERSION}`))) {
    throw new StackError(
      `Maven finished but ${staging} holds no kafka_2.13 jar; remove ${workDir} and retry.`,
    );
  }
  return jars;
}

/**
 * Makes sure the broker's jars are in the cache; resolves them with Maven on first use.
 * Returns the folder holding them.
 */
export async function ensureKafkaJars(options: {
  readonly cacheDir: string;
  readonly mavenCommand: string;
  readonly log: (line: string) => void;
}): Promise<string> {
  const libs = kafkaLibsDir(options.cacheDir);
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;

  const workDir = join(options.cacheDir, `kafka-${EMBEDDED_KAFKA_VERSION}`);
  const staging = join(workDir, 'libs.partial');
  await rm(staging, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const pom = join(workDir, 'pom.xml');
  await writeFile(pom, pomFor(EMBEDDED_KAFKA_VERSION));
  options.log(
    `Resolving Apache Kafka ${EMBEDDED_KAFKA_VERSION} jars from Maven Central into ${libs} (once)…`,
  );
  const started = Date.now();
  await copyDependencies(options.mavenCommand, pom, staging);
  const jars = await resolvedJars(staging, workDir);
  await rm(libs, { recursive: true, force: true });
  await rename(staging, libs);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  options.log(`Resolved ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return libs;
}

function tail(text: string, lines: number): string {
  return text
    .trim()
    .split('\n')
    .slice(-lines)
    .map((line) => `    ${line}`)
    .join('\n');
}

export interface KafkaBrokerOptions {
  readonly libsDir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly heap: string;
  readonly javaCommand: string;
}

export interface RunningKafkaBroker {
  readonly bootstrapServers: string;
  readonly logFile: string;
  /** The JVM's own output (errors before logging starts: a bad option, no memory). */
  readonly stdoutFile: string;
  /** Where this start's part of each file begins (both files are appended to across starts). */
  readonly logOffsets: { readonly log: number; readonly stdout: number };
  readonly process: ChildProcess;
  /** Resolves with the exit code when the JVM ends (for any reason). */
  readonly exited: Promise<number | null>;
  /** SIGTERM (Kafka shuts down cleanly), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function serverProperties(options: KafkaBrokerOptions, logDirs: string): string {
  const host = '127.0.0.1';
  return [
    '# Written by driftline at every start: one KRaft node acting as broker and controller.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${options.controllerPort}`,
    `listeners=PLAINTEXT://${host}:${options.port},CONTROLLER://${host}:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${host}:${options.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${logDirs}`,
    // Topics are created explicitly (data_raw has 10 partitions); a typo must not create a topic.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    // A single local consumer should not wait 3 s for others to join its group.
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=168',
    'log.segment.bytes=268435456',
    'delete.topic.enable=true',
    '',
  ].join('\n');
}

function log4jProperties(logFile: string): string {
  return [
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.MaxFileSize=20MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka=INFO',
    'log4j.logger.org.apache.kafka=INFO',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    '',
  ].join('\n');
}

/** Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding. */
/**
 * A KRaft cluster id: 16 random bytes, base64url. Never one that starts with '-': the storage tool's
 * argument parser takes it for an option and refuses to format (1 start in 64 failed so, once in
 * CI); Kafka's own Uuid.randomUuid draws again for the same reason.
 */
export function newClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * The broker JVM's GC log: each collection's heap used before → after (committed) and metaspace, as
 * Kafka's own start script keeps one (kafkaServer-gc.log). The soak bench reads it to tell the
 * heap's live data from what is merely committed (bench-soak-jvm.ts).
 */
export function kafkaGcLogFile(dataDir: string): string {
  return join(dataDir, 'kafka', 'gc.log');
}

/**
 * The broker's heap: fixed (-Xms = -Xmx, as Kafka's start script has it, 1G/1G) and touched at
 * start. G1 grows its committed heap towards -Xmx under load and does not give it back: with
 * -Xms128m -Xmx768m the broker's private memory climbed 300 → 470 MiB through a 10 M-row soak in
 * steps of committed heap (262 → 337 → 424 MiB) while its live data after GC stayed at ~160 MiB.
 * Fixed and pre-touched, its memory is at its plateau from the first second. The default, 512m
 * (DRIFTLINE_KAFKA_HEAP), is ~3× that live data: room for G1's young generation.
 */
function brokerHeapOptions(heap: string): string[] {
  return [`-Xmx${heap}`, `-Xms${heap}`, '-XX:+AlwaysPreTouch'];
}

/** The storage tool runs once and briefly: a growable heap, nothing touched in advance. */
function toolHeapOptions(heap: string): string[] {
  return [`-Xmx${heap}`, '-Xms128m'];
}

function javaArgs(
  options: KafkaBrokerOptions,
  log4jFile: string,
  mainClass: string,
  args: string[],
  jvmOptions: readonly string[] = toolHeapOptions(options.heap),
): string[] {
  return [
    ...jvmOptions,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4jFile}`,
    '-cp',
    `${options.libsDir}/*`,
    mainClass,
    ...args,
  ];
}

/**
 * Starts the broker as a child of this process (same process group, so stopping the group stops
 * it too). Formats the storage on first start; a second start reuses the data.
 */
/** Formats the storage once (a new cluster id); a formatted folder is left as it is. */
async function formatStorageOnce(
  options: KafkaBrokerOptions,
  files: { readonly logDirs: string; readonly configFile: string; readonly log4jFile: string },
): Promise<void> {
  if (existsSync(join(files.logDirs, 'meta.properties'))) return;
  try {
    await execFileAsync(
      options.javaCommand,
      javaArgs(options, files.log4jFile, 'kafka.tools.StorageTool', [
        'format',
        '-t',
        newClusterId(),
        '-c',
        files.configFile,
        '--ignore-formatted',
      ]),
    );
  } catch (error) {
    const stderr = error instanceof Error && 'stderr' in error ? String(error.stderr) : '';
    throw new StackError(`Formatting Kafka storage in ${files.logDirs} failed:\n${tail(stderr, 15)}`, {
      cause: error,
    });
  }
}

/** The JVM, its stdout and stderr appended to one file; resolves `exited` once that file is complete. */
function spawnBroker(options: KafkaBrokerOptions, log4jFile: string, configFile: string, stdoutPath: string) {
  const stdoutFile = createWriteStream(stdoutPath, { flags: 'a' });
  const gcLog = `-Xlog:gc,gc+metaspace:file=${kafkaGcLogFile(options.dataDir)}:uptime:filecount=2,filesize=10m`;
  const child = spawn(
    options.javaCommand,
    javaArgs(options, log4jFile, 'kafka.Kafka', [configFile], [...brokerHeapOptions(options.heap), gcLog]),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Both streams into one file, which ends only once both are closed (a pipe ends its destination
  // when its own source ends, and the other stream's last words would be lost).
  child.stdout.pipe(stdoutFile, { end: false });
  child.stderr.pipe(stdoutFile, { end: false });
  // Resolves only once the JVM's output is in the file, so a failed start can quote it.
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('close', (code) => {
      stdoutFile.end(() => resolveExit(code));
    });
  });
  return { child, exited };
}

export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<RunningKafkaBroker> {
  const kafkaDir = join(options.dataDir, 'kafka');
  const logDirs = join(kafkaDir, 'data');
  const configFile = join(kafkaDir, 'server.properties');
  const log4jFile = join(kafkaDir, 'log4j.properties');
  const logFile = join(kafkaDir, 'server.log');
  await mkdir(logDirs, { recursive: true });
  await writeFile(configFile, serverProperties(options, logDirs));
  await writeFile(log4jFile, log4jProperties(logFile));
  await formatStorageOnce(options, { logDirs, configFile, log4jFile });

  const stdoutPath = join(kafkaDir, 'stdout.log');
  const logOffsets = { log: await sizeOf(logFile), stdout: await sizeOf(stdoutPath) };
  const { child, exited } = spawnBroker(options, log4jFile, configFile, stdoutPath);
  return {
    bootstrapServers: `127.0.0.1:${options.port}`,
    logFile,
    stdoutFile: stdoutPath,
    logOffsets,
    process: child,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function readFrom(file: string, offset: number): Promise<string> {
  try {
    return (await readFile(file)).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/** Kafka's log lines that say why it stopped; its shutdown lines come after them and say nothing. */
const FAILURE_LINE = /\b(ERROR|FATAL|Error)\b|Exception/;

/**
 * Why a broker start failed, for the error message: the first ERROR/FATAL lines this start wrote
 * (to its log or the JVM's output), then the last lines of its log. A log tail alone shows only the
 * shutdown that follows the failure.
 */
export async function brokerStartupFailure(broker: RunningKafkaBroker, maxLines = 8): Promise<string> {
  const log = await readFrom(broker.logFile, broker.logOffsets.log);
  const output = `${log}\n${await readFrom(broker.stdoutFile, broker.logOffsets.stdout)}`;
  // Each failure line with the one after it (the JVM, for one, gives its reason on the next line).
  const lines = output.split('\n');
  const wanted = new Set<number>();
  lines.forEach((line, index) => {
    if (FAILURE_LINE.test(line)) wanted.add(index).add(index + 1);
  });
  const failures = [...wanted]
    .filter((index) => (lines[index] ?? '').trim() !== '')
    .slice(0, maxLines)
    .map((index) => lines[index] ?? '');
  const firstFailures =
    failures.length > 0
      ? `First errors of this start:\n${failures.map((line) => `    ${line.slice(0, 400)}`).join('\n')}\n`
      : 'This start logged no ERROR or FATAL line.\n';
  const logTail = log.trim() === '' ? '    (nothing: the JVM stopped before Kafka logged)' : tail(log, 10);
  return `${firstFailures}This start's log (${broker.logFile}) ends with:\n${logTail}`;
}

/** The last lines of the broker's log, for error messages. */
export async function brokerLogTail(logFile: string, lines = 20): Promise<string> {
  try {
    return tail(await readFile(logFile, 'utf8'), lines);
  } catch {
    return '    (no broker log yet)';
  }
}
