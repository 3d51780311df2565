/**
 * Reference data for the API (sf: radio codes), read from the dataset bucket and cached per
 * container. The object is re-read only when its ETag changes, checked at most every `ttlMs`. A
 * missing or malformed object is logged and summaries are served without it: never a failed request.
 */
import type { AnyAnalysis, JsonObject } from '../core/analysis.ts';
import type { ObjectSource } from './ports.ts';

export type ReferenceLoader = (analysis: AnyAnalysis) => Promise<unknown>;

interface CacheEntry {
  readonly checkedAtMs: number;
  readonly etag: string | undefined;
  readonly value: unknown;
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    length += chunk.length;
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

export function createReferenceLoader(options: {
  readonly source: ObjectSource;
  readonly bucket: string;
  readonly ttlMs: number;
  readonly now: () => number;
  readonly log: (message: string, details: Record<string, unknown>) => void;
}): ReferenceLoader {
  const cache = new Map<string, CacheEntry>();
  return async (analysis) => {
    const reference = analysis.reference;
    if (!reference) return undefined;
    const cached = cache.get(analysis.id);
    const now = options.now();
    if (cached && now - cached.checkedAtMs < options.ttlMs) return cached.value;
    try {
      const info = await options.source.head(options.bucket, reference.objectKey);
      if (cached && cached.etag === info.etag) {
        cache.set(analysis.id, { ...cached, checkedAtMs: now });
        return cached.value;
      }
      const value = reference.parse(
        await readAll(await options.source.read(options.bucket, reference.objectKey)),
      );
      cache.set(analysis.id, { checkedAtMs: now, etag: info.etag, value });
      return value;
    } catch (error) {
      options.log('reference data unavailable; summaries are served without it', {
        analysis: analysis.id,
        object: `s3://${options.bucket}/${reference.objectKey}`,
        error: error instanceof Error ? error.message : String(error),
      });
      cache.set(analysis.id, { checkedAtMs: now, etag: undefined, value: undefined });
      return undefined;
    }
  };
}

/** Joins the reference data into one summary (unchanged when the analysis has none or it is missing). */
export function enrichSummary(analysis: AnyAnalysis, summary: JsonObject, reference: unknown): JsonObject {
  return analysis.reference && reference !== undefined
    ? analysis.reference.enrich(summary, reference)
    : summary;
}
