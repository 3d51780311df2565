/**
 * `driftline`: one command for everything a person does with the project on one machine.
 * Each subcommand lives in commands/; this file only dispatches and turns expected failures
 * (StackError, ConfigError) into a one-paragraph message and a non-zero exit code.
 */
type Command = {
  readonly summary: string;
  readonly run: (args: string[]) => Promise<number>;
  /** It hosts the local runtime, which runs under a heap bound (runtime-heap.ts). */
  readonly hostsRuntime?: true;
};

// Each command is imported only when it runs: `analyze` must not pay for loading the AWS SDKs.
const commands: Record<string, Command> = {
  demo: {
    summary: 'run the pipeline on the local cloud in the foreground (npm start)',
    run: async (args) => (await import('./commands/demo.ts')).demoCommand(args),
    hostsRuntime: true,
  },
  replay: {
    summary: 'put a file of yours through the running pipeline (npm start), with its progress',
    run: async (args) => (await import('./commands/replay.ts')).replayCommand(args),
  },
  stack: {
    summary: 'start, stop or inspect the embedded local cloud (Kafka, S3, DynamoDB, Kinesis)',
    run: async (args) => (await import('./commands/stack.ts')).stackCommand(args),
  },
  generate: {
    summary: 'write a simulated dataset (dt: the drift-tube telescope) to a file or stdout',
    run: async (args) => (await import('./commands/generate.ts')).generateCommand(args),
  },
  analyze: {
    summary: 'run an analysis over a local file offline, one JSON line per batch',
    run: async (args) => (await import('./commands/analyze.ts')).analyzeCommand(args),
  },
  reconcile: {
    summary: 'check the live state against an offline run of every replayed object, quantity by quantity',
    run: async (args) => (await import('./commands/reconcile.ts')).reconcileCommand(args),
  },
  aws: {
    summary: 'after `serverless deploy`: check or create the Kafka topics on the MSK cluster',
    run: async (args) => (await import('./commands/aws.ts')).awsCommand(args),
  },
  bench: {
    summary: 'measure the core, end-to-end throughput and latency; writes bench-results/*.json',
    run: async (args) => (await import('./commands/bench.ts')).benchCommand(args),
    hostsRuntime: true,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
  return `driftline: serverless streaming analytics, on AWS or on this machine.

Usage: driftline <command> [options]     (driftline <command> --help for its options)

Commands:
${lines.join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  if (command.hostsRuntime && !rest.some((arg) => arg === '--help' || arg === '-h')) {
    const { hasHeapBound, runUnderHeapBound } = await import('./runtime-heap.ts');
    if (!hasHeapBound()) return runUnderHeapBound(argv);
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (
      error instanceof Error &&
      ['StackError', 'ConfigError', 'ObjectFormatError', 'UsageError'].includes(error.name)
    ) {
      console.error(`driftline ${name}: ${error.message}`);
      return 1;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`driftline ${name}: ${error.message} (see driftline ${name} --help)`);
      return 2;
    }
    throw error;
  }
}
