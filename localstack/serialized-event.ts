/**
 * An event that is already the JSON text a function receives. Lambda hands every event to its
 * runtime as JSON, and the Node runtime parses it before calling the handler; the local triggers
 * can do the same: build the text once, send it to the sandbox as one string (a copy of bytes,
 * where an object graph is serialized and rebuilt field by field), and let the sandbox parse it.
 * Each attempt is parsed afresh, so a handler that edits its event cannot change what a retry sees.
 */
export class SerializedEvent {
  constructor(
    /** The event as JSON. */
    readonly json: string,
    /** Records and `topic-partition` lists it holds, for counters and the bench (no parse needed). */
    readonly shape: { readonly records: number; readonly slices: number },
  ) {}

  /** The event as the handler receives it: a fresh object on every call. */
  parse(): unknown {
    return JSON.parse(this.json);
  }
}
