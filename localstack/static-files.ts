/** Serves a built static site (the dashboard) from a folder, with index.html as the fallback. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/**
 * Resolves true when it answered; never serves a file outside `root`, nor a dot-file or anything in
 * a dot-folder (the build's own records, such as `.vite/driftline-sources.json`).
 */
export async function serveStatic(
  root: string,
  pathname: string,
  response: ServerResponse,
): Promise<boolean> {
  const base = resolve(root);
  const decoded = decodeURIComponent(pathname);
  if (decoded.split('/').some((segment) => segment.startsWith('.'))) return false;
  const requested = resolve(base, `.${normalize(decoded)}`);
  if (!requested.startsWith(base)) return false;
  for (const candidate of [requested, join(requested, 'index.html'), join(base, 'index.html')]) {
    try {
      const info = await stat(candidate);
      if (!info.isFile()) continue;
      response.writeHead(200, {
        'content-type': contentTypes[extname(candidate)] ?? 'application/octet-stream',
        'content-length': String(info.size),
        'cache-control': candidate.includes(`${join(base, 'assets')}`)
          ? 'public, max-age=31536000, immutable'
          : 'no-cache',
      });
      createReadStream(candidate).pipe(response);
      return true;
    } catch {
      // Not this candidate; try the next.
    }
  }
  return false;
}
