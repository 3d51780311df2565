import { describe, expect, it } from 'vitest';
import {
  type CpuProfile,
  mainThreadProfilePid,
  perProcessBreakdown,
  perRowBreakdown,
  stageTimes,
} from '../../../localstack/commands/bench-profile.ts';

const root = '/work/project';
/** A small profile: a stage frame calling shared code, kafkajs on its own, GC and idle. */
const profile: CpuProfile = {
  startTime: 0,
  endTime: 1000,
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 5, 7, 8, 9, 10, 11] },
    {
      id: 2,
      callFrame: { functionName: 'handler', url: `file://${root}/functions/aggregate.ts` },
      children: [3],
    },
    {
      id: 3,
      callFrame: { functionName: 'applyBatch', url: `file://${root}/shared/analyses/dt/reducer.ts` },
      children: [4],
    },
    {
      id: 4,
      callFrame: { functionName: 'send', url: `file://${root}/node_modules/kafkajs/src/producer/index.js` },
    },
    {
      id: 5,
      callFrame: { functionName: 'dispatch', url: `file://${root}/localstack/msk-trigger.ts` },
      children: [6],
    },
    { id: 6, callFrame: { functionName: 'take', url: `file://${root}/localstack/trigger-buffer.ts` } },
    {
      id: 7,
      callFrame: {
        functionName: 'onData',
        url: `file://${root}/node_modules/kafkajs/src/network/connection.js`,
      },
    },
    { id: 8, callFrame: { functionName: '(garbage collector)', url: '' } },
    { id: 9, callFrame: { functionName: '(idle)', url: '' } },
    {
      id: 10,
      callFrame: {
        functionName: 'encode',
        url: `file://${root}/node_modules/kafkajs/src/protocol/requests/produce/v3/request.js`,
      },
    },
    { id: 11, callFrame: { functionName: 'writeBuffer', url: '' } },
  ],
  // Each sample stands for the delta that follows it: 10, 20, 30, 40, 50, 60 µs.
  samples: [3, 4, 6, 7, 8, 9, 10, 11],
  timeDeltas: [0, 10, 20, 30, 40, 50, 60, 70, 80],
};

describe('the per-stage breakdown of a CPU profile', () => {
  it('charges shared code and libraries to the innermost stage on the stack', () => {
    const times = stageTimes(profile);
    expect(times.get('aggregate (decode, fold, state, summary)')).toBe(30);
    expect(times.get('local MSK trigger (fetch, buffer, event build)')).toBe(30);
    expect(times.get('kafkajs, other (network, long, metadata)')).toBe(40);
    expect(times.get('garbage collector')).toBe(50);
    expect(times.get('idle')).toBe(60);
    expect(times.get("kafkajs encoding produce requests (mostly replay's)")).toBe(70);
    expect(times.get('Node internals and native (buffers, sockets, microtasks)')).toBe(80);
  });

  it('gives µs per row, largest first, without idle', () => {
    const breakdown = perRowBreakdown(profile, 10);
    expect(breakdown[0]).toEqual({
      stage: 'Node internals and native (buffers, sockets, microtasks)',
      microsPerRow: 8,
    });
    expect(breakdown.map((entry) => entry.stage)).not.toContain('idle');
    expect(breakdown.reduce((sum, entry) => sum + entry.microsPerRow, 0)).toBeCloseTo(30);
  });
});

describe('the per-process breakdown of the runtime and its sandboxes', () => {
  it("counts only the samples within the run's window", () => {
    // Sample timestamps: 0, 10, 30, 60, 100, 150, 210, 280 (startTime + the deltas so far).
    const times = stageTimes(profile, { startMicros: 30, endMicros: 150 });
    expect(times.get('local MSK trigger (fetch, buffer, event build)')).toBe(30);
    expect(times.get('kafkajs, other (network, long, metadata)')).toBe(40);
    expect(times.get('garbage collector')).toBe(50);
    expect(times.get('aggregate (decode, fold, state, summary)')).toBeUndefined();
    expect(times.get('idle')).toBeUndefined();
  });

  it('charges IPC to the sandbox, not to the stage that invoked it', () => {
    const ipc: CpuProfile = {
      startTime: 0,
      endTime: 100,
      nodes: [
        {
          id: 1,
          callFrame: { functionName: 'dispatch', url: `file://${root}/localstack/msk-trigger.ts` },
          children: [2],
        },
        {
          id: 2,
          callFrame: { functionName: 'handler', url: `file://${root}/localstack/function-sandbox.ts` },
        },
      ],
      samples: [2],
      timeDeltas: [0, 25],
    };
    expect(stageTimes(ipc).get('sandbox IPC (events and results to and from the sandbox)')).toBe(25);
  });

  it('gives each process its column and its busy sum, stages ordered by their total', () => {
    const window = { startMicros: 0, endMicros: 1000 };
    const breakdown = perProcessBreakdown(
      new Map([
        ['runtime', profile],
        ['aggregate sandbox', { ...profile, samples: [3, 3], timeDeltas: [0, 100, 100] }],
      ]),
      10,
      window,
    );
    expect(breakdown.processes).toEqual(['runtime', 'aggregate sandbox']);
    expect(breakdown.rows[0]).toEqual({
      stage: 'aggregate (decode, fold, state, summary)',
      microsPerRow: [3, 20],
    });
    expect(breakdown.busy[0]).toBeCloseTo(30);
    expect(breakdown.busy[1]).toBeCloseTo(20);
  });

  it("reads the pid from the name --cpu-prof gives a main thread's profile", () => {
    expect(mainThreadProfilePid('CPU.20261201.121615.12144.0.001.cpuprofile')).toBe(12144);
    expect(mainThreadProfilePid('CPU.20261201.121616.12144.1.002.cpuprofile')).toBeUndefined();
    expect(mainThreadProfilePid('runtime.cpuprofile')).toBeUndefined();
  });
});
