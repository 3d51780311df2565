/**
 * The packaged template of every stage through cfn-lint and the IAM linter (deploy/lint-iam.py,
 * parliament): no finding beyond those accepted in the template itself (osls's own redundant
 * DependsOn, W3005, in resources.extensions Metadata) or in lint-iam.py, each with its reason.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { missingDeployTools, packageStage, TEST_AWS_PARAMS, tool } from '../support/deploy-tools.ts';

const execFileAsync = promisify(execFile);

/** Every stage serverless.yml defines; the AWS ones get the params they require. */
const STAGES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  dev: TEST_AWS_PARAMS,
  prod: TEST_AWS_PARAMS,
  local: {},
  localstack: {},
  'local-kinesis': {},
};

async function run(command: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd: PROJECT_ROOT, maxBuffer: 8 << 20 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const skip = missingDeployTools('cfn-lint', 'python');

describe.skipIf(skip !== '')('the packaged template of every stage lints clean', { timeout: 180_000 }, () => {
  let outDir = '';
  const templates = new Map<string, string>();

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'driftline-lint-'));
    // One after another: each is a few seconds of CPU on a 2-core machine.
    for (const [stage, params] of Object.entries(STAGES))
      templates.set(stage, await packageStage(stage, params, join(outDir, stage)));
  }, 180_000);
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it.each(Object.keys(STAGES))('cfn-lint: stage %s has no error and no warning', async (stage) => {
    const lint = await run(tool('cfn-lint'), [String(templates.get(stage))]);
    expect(lint.output.trim()).toBe('');
    expect(lint.code).toBe(0);
  });

  it.each(Object.keys(STAGES))(
    'IAM (parliament + no wildcard where a scope exists): stage %s has no finding',
    async (stage) => {
      const lint = await run(tool('python'), ['deploy/lint-iam.py', String(templates.get(stage))]);
      expect(lint.output).toMatch(/: 0 finding\(s\)/);
      expect(lint.code, lint.output).toBe(0);
    },
  );

  it('the IAM linter does find what it looks for (a wildcard resource, a wildcard account)', async () => {
    const bad = join(outDir, 'bad.json');
    const statement = (Sid: string, Action: string, Resource: string) => ({
      Sid,
      Effect: 'Allow',
      Action,
      Resource,
    });
    await writeFile(
      bad,
      JSON.stringify({
        Resources: {
          LooseRole: {
            Type: 'AWS::IAM::Role',
            Properties: {
              Policies: [
                {
                  PolicyName: 'loose',
                  PolicyDocument: {
                    Version: '2012-10-17',
                    Statement: [
                      statement('AnyTable', 'dynamodb:PutItem', '*'),
                      statement(
                        'AnyAccount',
                        'lambda:InvokeFunction',
                        'arn:aws:lambda:eu-west-1:*:function:x',
                      ),
                    ],
                  },
                },
              ],
            },
          },
        },
      }),
    );
    const lint = await run(tool('python'), ['deploy/lint-iam.py', bad]);
    expect(lint.code).toBe(1);
    expect(lint.output).toContain('LooseRole AnyTable: RESOURCE_STAR');
    expect(lint.output).toContain('LooseRole AnyAccount: WILDCARD');
  });
});
