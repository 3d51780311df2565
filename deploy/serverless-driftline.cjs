/**
 * The osls plugin that completes `serverless deploy` and `serverless remove` for driftline:
 *
 * - after deploy: publishes the built dashboard (frontend/dist) to the dashboard bucket, with a
 *   `config.json` beside index.html naming the API's URL (the stack's HttpApiUrl output, the REST
 *   API's ServiceEndpoint on a stage that has one instead (localstack), or
 *   --param dashboardApiUrl=… for an API behind a domain of its own). The dashboard reads it at
 *   start (frontend/src/lib/api/config.ts); without one (locally) it calls its own origin.
 *   Hashed assets are immutable; index.html and config.json are `no-cache`, so CloudFront (its
 *   CachingOptimized policy honours Cache-Control) serves a new deploy at once, without invalidation.
 * - before remove: empties the buckets the stack owns (state, failed batches, dashboard), which
 *   CloudFormation cannot delete while they hold objects. The dataset bucket is not the stack's and
 *   is left alone; osls empties its own deployment bucket.
 *
 * CommonJS, because osls loads plugins with require(). The AWS clients take osls's own client
 * configuration (credentials, region, and AWS_ENDPOINT_URL: the deploy test's emulator).
 */
'use strict';

const { readdir, readFile, stat } = require('node:fs/promises');
const { extname, join, relative, sep } = require('node:path');

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Hashed build output never changes under its name; everything else must be revalidated. */
function cacheControlFor(key) {
  return key.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

async function listFiles(root) {
  const files = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return files;
}

/** The dashboard's config.json: where its API is. Validated on the dashboard's side too. */
function dashboardConfig(apiBaseUrl) {
  const url = new URL(apiBaseUrl);
  return `${JSON.stringify({ apiBaseUrl: url.href.replace(/\/+$/, '') })}\n`;
}

class DriftlineDeployPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      // Checked before anything is deployed, so a missing build does not fail a finished deploy.
      'before:deploy:deploy': () => this.checkDashboardBuilt(),
      'after:deploy:deploy': () => this.publishDashboard(),
      'before:remove:remove': () => this.emptyStackBuckets(),
    };
  }

  get custom() {
    return this.serverless.service.custom;
  }

  get distDir() {
    return join(this.serverless.serviceDir, 'frontend', 'dist');
  }

  log(message) {
    this.serverless.cli.log(`driftline: ${message}`);
  }

  async s3() {
    const { S3Client } = require('@aws-sdk/client-s3');
    return new S3Client(await this.provider.getAwsSdkV3Config());
  }

  async checkDashboardBuilt() {
    try {
      await stat(join(this.distDir, 'index.html'));
    } catch {
      throw new this.serverless.classes.Error(
        `The dashboard is not built (${relative(this.serverless.serviceDir, this.distDir)}/index.html ` +
          'is missing): run `npm run build:frontend`, then deploy again.',
      );
    }
  }

  async stackOutputs() {
    // The CloudFormation client osls itself uses, and the SDK package it came from.
    const { DescribeStacksCommand } = require(
      require.resolve('@aws-sdk/client-cloudformation', { paths: [require.resolve('osls')] }),
    );
    const client = await this.provider.getCloudFormationClient();
    const answer = await client.send(
      new DescribeStacksCommand({ StackName: this.provider.naming.getStackName() }),
    );
    const outputs = answer.Stacks?.[0]?.Outputs ?? [];
    return Object.fromEntries(outputs.map((output) => [output.OutputKey, output.OutputValue]));
  }

  async apiBaseUrl() {
    if (this.custom.dashboardApiUrl) return this.custom.dashboardApiUrl;
    // The HTTP API's URL, or the REST API's (with its stage) where the stage has one (custom.httpEntries).
    const outputs = await this.stackOutputs();
    const url = outputs.HttpApiUrl ?? outputs.ServiceEndpoint;
    if (!url) {
      throw new this.serverless.classes.Error(
        'The stack has neither an HttpApiUrl nor a ServiceEndpoint output, so the dashboard cannot be told where its API is: ' +
          'give it with --param dashboardApiUrl=https://…',
      );
    }
    return url;
  }

  async publishDashboard() {
    const { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand } = require('@aws-sdk/client-s3');
    const bucket = this.custom.dashboardBucket;
    const apiBaseUrl = await this.apiBaseUrl();
    const s3 = await this.s3();
    const uploaded = new Set();
    for (const file of await listFiles(this.distDir)) {
      const key = relative(this.distDir, file).split(sep).join('/');
      if (key === 'config.json') continue; // a local one never goes to AWS; it is written below
      if (key.startsWith('.') || key.includes('/.')) continue; // build metadata (.vite/), not the site
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: await readFile(file),
          ContentType: CONTENT_TYPES[extname(key)] ?? 'application/octet-stream',
          CacheControl: cacheControlFor(key),
        }),
      );
      uploaded.add(key);
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'config.json',
        Body: dashboardConfig(apiBaseUrl),
        ContentType: CONTENT_TYPES['.json'],
        CacheControl: 'no-cache',
      }),
    );
    uploaded.add('config.json');
    // Assets of earlier builds: unreferenced now (a tab still open on the old index.html reloads).
    const stale = (await this.listKeys(s3, ListObjectsV2Command, bucket)).filter((key) => !uploaded.has(key));
    await this.deleteKeys(s3, DeleteObjectsCommand, bucket, stale);
    const where = (await this.stackOutputs()).DashboardUrl ?? `s3://${bucket}`;
    this.log(`dashboard published to ${where} (${uploaded.size} files; API ${apiBaseUrl})`);
  }

  async listKeys(s3, ListObjectsV2Command, bucket) {
    const keys = [];
    let token;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async deleteKeys(s3, DeleteObjectsCommand, bucket, keys) {
    for (let start = 0; start < keys.length; start += 1000) {
      const batch = keys.slice(start, start + 1000).map((Key) => ({ Key }));
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }));
    }
  }

  async emptyStackBuckets() {
    const { DeleteObjectsCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');
    const s3 = await this.s3();
    for (const bucket of [
      this.custom.stateBucket,
      this.custom.failedBatchesBucket,
      this.custom.dashboardBucket,
    ]) {
      let keys;
      try {
        keys = await this.listKeys(s3, ListObjectsV2Command, bucket);
      } catch (error) {
        if (error?.name === 'NoSuchBucket') continue;
        throw error;
      }
      await this.deleteKeys(s3, DeleteObjectsCommand, bucket, keys);
      this.log(`emptied s3://${bucket} (${keys.length} objects) so that the stack can delete it`);
    }
  }
}

module.exports = DriftlineDeployPlugin;
module.exports.dashboardConfig = dashboardConfig;
module.exports.cacheControlFor = cacheControlFor;
