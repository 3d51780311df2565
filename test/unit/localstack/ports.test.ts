import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ephemeralPortRange,
  freePortOutsideEphemeralRange,
  portBelowRange,
} from '../../../localstack/ports.ts';
import { concretePorts } from '../../../localstack/stack.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((closed) => server.close(closed))));
});

function listenOn(port: number): Promise<Server> {
  return new Promise((resolveListen, rejectListen) => {
    const server = createServer();
    server.once('error', rejectListen);
    server.listen(port, '127.0.0.1', () => resolveListen(server));
    servers.push(server);
  });
}

// Regression test; the bug it caught was: the embedded broker's ports (port 0 = "any free port")
// were found by listen(0) and released, and the JVM bound them seconds later. The kernel hands such
// a port to the next listen(0) on the machine (a test beside it, an emulator of the same stack), so
// on a loaded machine the broker could exit during startup ("Address already in use"; seen as the
// stack-lifecycle flake). Fixed by: choosing them outside the kernel's ephemeral range, which
// listen(0) and outgoing connections never use.
describe("the stack's own choice of the Kafka ports", () => {
  it('takes both from outside the ephemeral range, two different ones, each free to listen on', async () => {
    const range = await ephemeralPortRange();
    for (let draw = 0; draw < 20; draw++) {
      const ports = await concretePorts({
        kafka: 0,
        kafkaController: 0,
        s3: 0,
        dynamodb: 0,
        kinesis: 0,
        api: 0,
      });
      for (const port of [ports.kafka, ports.kafkaController]) {
        expect(port < range.low || port > range.high, `${port} is in ${range.low}-${range.high}`).toBe(true);
      }
      expect(ports.kafka).not.toBe(ports.kafkaController);
      const server = await listenOn(ports.kafka);
      server.close();
    }
  });

  it('keeps the ports it was given', async () => {
    const ports = await concretePorts({
      kafka: 9092,
      kafkaController: 9093,
      s3: 0,
      dynamodb: 0,
      kinesis: 0,
      api: 0,
    });
    expect([ports.kafka, ports.kafkaController]).toEqual([9092, 9093]);
  });
});

describe('freePortOutsideEphemeralRange', () => {
  it('draws again when the port it drew is taken or excluded', async () => {
    // A range whose only port below it (10000) is taken: the drawn port must be another one.
    const range = { low: 10_002, high: 60_999 };
    expect([portBelowRange(range, () => 0), portBelowRange(range, () => 0.99)]).toEqual([10_000, 10_001]);
    await listenOn(10_000).catch(() => undefined);
    expect([10_000, 10_001]).not.toContain(await freePortOutsideEphemeralRange({ range, except: [10_001] }));
  });

  it('falls back to any free port when the range leaves no room below it', async () => {
    const range = { low: 1024, high: 65535 };
    expect(portBelowRange(range)).toBeUndefined();
    const port = await freePortOutsideEphemeralRange({ range });
    expect(port).toBeGreaterThan(0);
  });
});
