/**
 * Kafka's own perf tools (ProducerPerformance, ConsumerPerformance), the yardstick of
 * `driftline bench`: they live in the `kafka-tools` artifact, not in the broker's jars, so Maven
 * resolves that artifact and its dependencies once into a folder of their own beside the broker's
 * (the broker's folder is left alone: a running stack reads it).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EMBEDDED_KAFKA_VERSION } from '../shared/config.ts';
import { copyDependencies } from './kafka-broker.ts';
import { StackError } from './stack-error.ts';

export function kafkaToolsLibsDir(cacheDir: string): string {
  return join(cacheDir, `kafka-tools-${EMBEDDED_KAFKA_VERSION}`, 'libs');
}

function toolsPomFor(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by driftline: resolves Apache Kafka ${version}'s perf tools (kafka-tools) for the bench. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>driftline.local</groupId>
  <artifactId>kafka-perf-tools</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${version}</version></dependency>
  </dependencies>
</project>
`;
}

/** Makes sure the perf tools' jars are in the cache (Maven, once); returns their folder. */
export async function ensureKafkaToolsJars(options: {
  readonly cacheDir: string;
  readonly mavenCommand: string;
  readonly log: (line: string) => void;
}): Promise<string> {
  const libs = kafkaToolsLibsDir(options.cacheDir);
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;
  const workDir = join(options.cacheDir, `kafka-tools-${EMBEDDED_KAFKA_VERSION}`);
  const staging = join(workDir, 'libs.partial');
  await rm(staging, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const pom = join(workDir, 'pom.xml');
  await writeFile(pom, toolsPomFor(EMBEDDED_KAFKA_VERSION));
  options.log(`Resolving Kafka ${EMBEDDED_KAFKA_VERSION} perf tools (kafka-tools) into ${libs} (once)…`);
  await copyDependencies(options.mavenCommand, pom, staging);
  const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar'));
  if (!jars.some((name) => name.startsWith(`kafka-tools-${EMBEDDED_KAFKA_VERSION}`)))
    throw new StackError(
      `Maven finished but ${staging} holds no kafka-tools jar; remove ${workDir} and retry.`,
    );
  await rm(libs, { recursive: true, force: true });
  await rename(staging, libs);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  options.log(`Resolved ${jars.length} perf tool jars.`);
  return libs;
}
