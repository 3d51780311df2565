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
