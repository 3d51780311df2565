import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.ts';
import { BoundedSet } from './bounded-set.ts';
import { KeyedSeries } from './keyed-series.ts';
import { RingBuffer } from './ring-buffer.ts';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    for (let value = 1; value <= 10; value++) ring.push(value);
    expect(ring.size).toBe(3);
    expect(ring.toArray()).toEqual([8, 9, 10]);
    expect(ring.last()).toBe(10);
  });

  it('holds fewer items before it is full, and nothing after clear', () => {
    const ring = new RingBuffer<string>(4);
    ring.push('a');
    ring.push('b');
    expect(ring.toArray()).toEqual(['a', 'b']);
    ring.clear();
    expect(ring.size).toBe(0);
    expect(ring.toArray()).toEqual([]);
    expect(ring.last()).toBeUndefined();
  });

  it('never grows past its capacity, however many items pass through', () => {
    const ring = new RingBuffer<{ at: number }>(100);
    for (let at = 0; at < 100_000; at++) ring.push({ at });
    expect(ring.size).toBe(100);
    expect(ring.toArray()[0]).toEqual({ at: 99_900 });
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });
});

describe('BoundedSet', () => {
  it('reports repeats and forgets the oldest keys first', () => {
    const seen = new BoundedSet<string>(2);
    expect(seen.add('a')).toBe(true);
    expect(seen.add('a')).toBe(false);
    seen.add('b');
    seen.add('c');
    expect(seen.size).toBe(2);
    expect(seen.has('a')).toBe(false);
    expect(seen.has('b')).toBe(true);
    expect(seen.has('c')).toBe(true);
  });
});

describe('KeyedSeries', () => {
  it('replaces a point fetched again, inserts late points in order and keeps at most `capacity`', () => {
    const series = new KeyedSeries<string>(3);
    series.upsert(10, 'a');
    series.upsert(20, 'b');
    series.upsert(10, 'a2');
    series.upsert(15, 'late');
    expect(series.entries().map((entry) => [entry.key, entry.value])).toEqual([
      [10, 'a2'],
      [15, 'late'],
      [20, 'b'],
    ]);
    series.upsert(30, 'c');
    expect(series.entries().map((entry) => entry.key)).toEqual([15, 20, 30]);
  });

  it('drops points older than a time', () => {
    const series = new KeyedSeries<number>(10);
    for (const key of [1, 2, 3, 4]) series.upsert(key, key);
    series.dropBefore(3);
    expect(series.entries().map((entry) => entry.key)).toEqual([3, 4]);
    series.dropBefore(100);
    expect(series.size).toBe(0);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, jittered between half and all of the step', () => {
    const top = { baseMs: 1000, maxMs: 8000, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 9].map((attempt) => backoffDelayMs(attempt, top))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect(backoffDelayMs(3, { ...top, random: () => 0 })).toBe(2000);
  });
});
