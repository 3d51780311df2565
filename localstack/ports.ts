import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { StackError } from './stack-error.ts';

/** Resolves with a port that was free a moment ago (for servers that cannot bind port 0 themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, rejectPort) => {
    const server = createServer();
    server.once('error', rejectPort);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Fails with a message naming the component and the variable to change when a port is taken. */
export function assertPortFree(port: number, component: string, variable: string): Promise<void> {
  return new Promise((resolveCheck, rejectCheck) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      rejectCheck(
        error.code === 'EADDRINUSE'
          ? new StackError(
              `Port ${port} on 127.0.0.1 (${component}) is already in use by another process.\n` +
                `  Stop that process, or choose another port: ${variable}=<port> (0 picks a free one).\n` +
                '  If it is an earlier driftline stack, `npx driftline stack down` stops it.',
            )
          : error,
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolveCheck()));
  });
}

/** The kernel's range for ports it picks itself: `listen(0)`, and the local end of each outgoing connection. */
export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** IANA's dynamic range: macOS and Windows pick from it; Linux says its own in /proc. */
const IANA_EPHEMERAL: PortRange = { low: 49152, high: 65535 };
/** Below this a port is more likely some service's well-known one. */
const LOWEST_PICK = 10_000;

export async function ephemeralPortRange(): Promise<PortRange> {
  try {
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number);
    return low && high ? { low, high } : IANA_EPHEMERAL;
  } catch {
    return IANA_EPHEMERAL;
  }
}

/** A port to try, below the ephemeral range; undefined when the range leaves no room below it. */
export function portBelowRange(range: PortRange, random: () => number = Math.random): number | undefined {
  const room = range.low - LOWEST_PICK;
  return room > 0 ? LOWEST_PICK + Math.floor(random() * room) : undefined;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const server = createServer();
    server.once('error', () => resolveCheck(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveCheck(true)));
  });
}

/**
 * A free port for a server that must be told its port before it binds (Kafka advertises its own),
 * drawn from outside the kernel's ephemeral range. `freePort`'s port is one the kernel may hand out
 * again at once: to the next `listen(0)` on the machine, while the JVM is still seconds from
 * binding (on a loaded machine, with every test beside it binding port 0, the broker then exited
 * during startup: "Address already in use"). The kernel never picks a port outside its range, so
 * only a process asking for that very port can take it.
 */
export async function freePortOutsideEphemeralRange(
  options: { readonly except?: readonly number[]; readonly range?: PortRange } = {},
): Promise<number> {
  const range = options.range ?? (await ephemeralPortRange());
  const taken = new Set(options.except);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = portBelowRange(range);
    if (port === undefined) break;
    if (!taken.has(port) && (await canListen(port))) return port;
  }
  return freePort();
}
