/**
 * What the deploy tests share: `serverless package` of a stage with test params (offline, no
 * credentials), and the Python tools from PyPI (cfn-lint, parliament, moto) in the venv that
 * deploy/install-tools.sh makes. Without that venv the tests that need it skip, saying why; with
 * DRIFTLINE_REQUIRE_DEPLOY_TOOLS=1 (.ci/run) they fail instead, so CI can never skip them quietly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { loadStackConfig } from '../../shared/config.ts';

const execFileAsync = promisify(execFile);

/** The venv's bin folder: DRIFTLINE_DEPLOY_TOOLS, else where deploy/install-tools.sh puts it. */
export const DEPLOY_TOOLS_BIN =
  process.env.DRIFTLINE_DEPLOY_TOOLS ?? join(loadStackConfig().cacheDir, 'deploy-tools', 'bin');

/**
 * Why a test needing `tools` cannot run ('' when it can). Throws instead when CI requires them.
 */
export function missingDeployTools(...tools: readonly string[]): string {
  const missing = tools.filter((tool) => !existsSync(join(DEPLOY_TOOLS_BIN, tool)));
  if (missing.length === 0) return '';
  const reason =
    `skipped: ${missing.join(', ')} not found in ${DEPLOY_TOOLS_BIN} ` +
    '(run `bash deploy/install-tools.sh`, or set DRIFTLINE_DEPLOY_TOOLS to a venv bin folder)';
  if (process.env.DRIFTLINE_REQUIRE_DEPLOY_TOOLS === '1') throw new Error(reason.replace('skipped: ', ''));
  console.warn(reason);
  return reason;
}

export const tool = (name: string) => join(DEPLOY_TOOLS_BIN, name);

/** Values for the params an AWS stage requires; well-formed, pointing at nothing real. */
export const TEST_AWS_PARAMS: Readonly<Record<string, string>> = {
  mskClusterArn:
    'arn:aws:kafka:eu-west-1:123456789012:cluster/driftline-test/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-3',
  mskBootstrapServers:
    'b-1.test.kafka.eu-west-1.amazonaws.com:9098,b-2.test.kafka.eu-west-1.amazonaws.com:9098',
  vpcId: 'vpc-0123456789abcdef0',
  vpcSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  vpcSecurityGroupIds: 'sg-0123456789abcdef0',
  vpcRouteTableIds: 'rtb-0123456789abcdef0,rtb-0123456789abcdef1',
};

export const paramArgs = (params: Readonly<Record<string, string>>) =>
  Object.entries(params).flatMap(([name, value]) => ['--param', `${name}=${value}`]);

/** The environment of a `serverless` run: no telemetry, and no credentials of the person's. */
export function serverlessEnvironment(
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, SLS_TELEMETRY_DISABLED: '1', ...extra };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
    if (!(name in extra)) delete env[name];
  return env;
}

export const SERVERLESS_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless');

export type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
  Metadata?: unknown;
};
export interface Template {
  Parameters: Record<string, { Type: string; Default?: unknown }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, unknown>;
}

/** `serverless package` of `stage` into `outDir`; resolves to the path of its template. */
export async function packageStage(
  stage: string,
  params: Readonly<Record<string, string>>,
  outDir: string,
): Promise<string> {
  await execFileAsync(
    SERVERLESS_BIN,
    ['package', '--stage', stage, '--region', 'eu-west-1', '--package', outDir, ...paramArgs(params)],
    { cwd: PROJECT_ROOT, env: serverlessEnvironment(), maxBuffer: 16 * 1024 * 1024 },
  );
  return join(outDir, 'cloudformation-template-update-stack.json');
}

export async function readTemplate(path: string): Promise<Template> {
  return JSON.parse(await readFile(path, 'utf8'));
}
