import { describe, expect, it } from 'vitest';
import { parseEventTime } from '../../../shared/analyses/sf/index.ts';

describe('sf event time (call_date_time, local wall clock read as UTC)', () => {
  it.each([
    ['2018-12-31T23:57:00.000', Date.UTC(2018, 11, 31, 23, 57)],
    ['2018-12-31T23:57', Date.UTC(2018, 11, 31, 23, 57)],
    ['2018-12-31 23:57:30', Date.UTC(2018, 11, 31, 23, 57, 30)],
    ['2018-12-31T23:57:30.5', Date.UTC(2018, 11, 31, 23, 57, 30, 500)],
    ['2018-12-31T23:57:30.123456', Date.UTC(2018, 11, 31, 23, 57, 30, 123)],
    ['2018-11-04T01:30:00.000', Date.UTC(2018, 10, 4, 1, 30)],
    ['2016-02-29T00:00:00.000', Date.UTC(2016, 1, 29)],
    ['2018-12-31T23:57:00Z', Date.UTC(2018, 11, 31, 23, 57)],
    ['2018-12-31T23:57:00-08:00', Date.UTC(2019, 0, 1, 7, 57)],
  ])('reads %s', (textValue, expected) => {
    expect(parseEventTime(textValue)).toBe(expected);
  });

  it('does not depend on the machine time zone (no Date.parse of a zone-less string)', () => {
    expect(parseEventTime('2018-07-01T12:00:00.000')).toBe(Date.parse('2018-07-01T12:00:00.000Z'));
  });

  it.each([
    'yesterday',
    '2018-12-31',
    '2018-13-01T00:00:00.000',
    '2018-02-29T00:00:00.000',
    '2018-04-31T00:00:00.000',
    '2018-12-31T24:00:00.000',
    '2018-12-31T23:60:00.000',
    ' 2018-12-31T23:57:00.000',
  ])('refuses %j', (textValue) => {
    expect(parseEventTime(textValue)).toBeNaN();
  });
});
