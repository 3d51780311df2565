// Self time of a .cpuprofile per pipeline stage, in µs per row. Each sample is charged to the stage of
// its nearest frame in the project or node_modules (node internals go to whoever called them).
// Usage: node test/perf/profile-stages.mjs <file.cpuprofile> <rows> [from-seconds to-seconds]
import { readFileSync } from 'node:fs';

const [file, rowsText = '100000', fromText = '0', toText = '1e9'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const rows = Number(rowsText);
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

/** [stage, pattern on the frame's URL], first match wins. */
const STAGES = [
  [
    'kafkajs encode (produce)',
    /kafkajs\/src\/protocol\/(recordBatch|encoder|message|requests\/produce)(?!.*decoder)/,
  ],
  ['kafkajs decode (fetch)', /kafkajs\/src\/protocol\/.*decoder/],
  ['kafkajs client (producer, consumer, network)', /kafkajs/],
  ['MSK trigger (event building)', /localstack\/(msk-record|msk-trigger|trigger-buffer|wakeup|retry-policy)/],
  [
    'replay',
    /shared\/pipeline\/replay|analyses\/\w+\/(replay|framer|line-framer|json-array-framer)|decompression|functions\/replay/,
  ],
  [
    'aggregate (decode, fold, summary)',
    /shared\/pipeline\/(msk-event|aggregate|batch-slice|state-keys)|functions\/aggregate|analyses\//,
  ],
  ['Kafka adapter', /shared\/adapters\/kafka/],
  [
    'AWS SDK (DynamoDB, S3 clients)',
    /@aws-sdk|@smithy|shared\/adapters\/(state-store|dynamodb|s3)|overflow-store/,
  ],
  ['zod (API, state items)', /zod/],
  ['api', /http-api|functions\/api|http-gateway/],
];

/** V8's pseudo-frames. */
const SPECIAL = new Map([
  ['(garbage collector)', 'GC'],
  ['(idle)', 'idle'],
  ['(program)', 'native (unattributed)'],
]);

const stages = new Map();
function stageOf(id) {
  if (stages.has(id)) return stages.get(id);
  const { functionName, url } = nodes.get(id).callFrame;
  const stage =
    SPECIAL.get(functionName) ??
    STAGES.find(([, pattern]) => pattern.test(url))?.[0] ??
    (parents.has(id) ? stageOf(parents.get(id)) : 'other');
  stages.set(id, stage);
  return stage;
}

const from = Number(fromText) * 1e6;
const to = Number(toText) * 1e6;
const totals = new Map();
let clock = 0;
let all = 0;
for (let index = 0; index < profile.samples.length; index++) {
  const delta = profile.timeDeltas[index] ?? 0;
  clock += delta;
  if (clock < from || clock > to) continue;
  const stage = stageOf(profile.samples[index]);
  totals.set(stage, (totals.get(stage) ?? 0) + delta);
  all += delta;
}
console.log(`${(all / 1e6).toFixed(1)} s of profile; µs per row over ${rows} rows`);
for (const [stage, micros] of [...totals].sort((a, b) => b[1] - a[1])) {
  console.log(
    `${(micros / rows).toFixed(2).padStart(8)} µs/row ${((100 * micros) / all).toFixed(1).padStart(5)} %  ${stage}`,
  );
}
