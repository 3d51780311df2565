import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../shared/core/format.ts';

describe('formatDuration', () => {
  it('writes mm:ss below an hour and h:mm:ss above, rounding to the second', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(59.6)).toBe('01:00');
    expect(formatDuration(21 * 60 + 40)).toBe('21:40');
    expect(formatDuration(3600 + 62)).toBe('1:01:02');
  });

  it('says the duration is unknown with the caller’s placeholder', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(Number.NaN, '--:--')).toBe('--:--');
  });
});
