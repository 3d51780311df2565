import { describe, expect, it } from 'vitest';
import { ConfigError, loadFunctionConfig, loadStackConfig } from '../../shared/config.ts';

describe('function configuration', () => {
  it('has working local defaults', () => {
    const config = loadFunctionConfig({});
    expect(config.topics).toEqual({ raw: 'data_raw', clean: 'data_clean', dead: 'data_dead' });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:7800']);
    expect(config.replay).toEqual({ rowsPerRecord: 1, rate: 1000 });
  });

  it('parses broker lists and numbers from the environment', () => {
    const config = loadFunctionConfig({
      DRIFTLINE_KAFKA_BROKERS: 'b-1.example:9098, b-2.example:9098',
      DRIFTLINE_REPLAY_RATE: '0',
      DRIFTLINE_REPLAY_ROWS_PER_RECORD: '1000',
    });
    expect(config.kafka.brokers).toEqual(['b-1.example:9098', 'b-2.example:9098']);
    expect(config.replay).toEqual({ rowsPerRecord: 1000, rate: 0 });
  });

  it('names every bad variable in one error', () => {
    const attempt = () =>
      loadFunctionConfig({ DRIFTLINE_KAFKA_BROKERS: 'nohost', DRIFTLINE_REPLAY_RATE: '-1' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /DRIFTLINE_KAFKA_BROKERS[\s\S]*DRIFTLINE_REPLAY_RATE|DRIFTLINE_REPLAY_RATE[\s\S]*DRIFTLINE_KAFKA_BROKERS/,
    );
  });
});

describe('stack configuration', () => {
  it('resolves folders against the working directory and keeps the jar cache outside the data folder', () => {
    const config = loadStackConfig(
      { DRIFTLINE_DATA_DIR: 'state', XDG_CACHE_HOME: '/var/cache/me' },
      '/home/me/project',
    );
    expect(config.dataDir).toBe('/home/me/project/state');
    expect(config.cacheDir).toBe('/var/cache/me/driftline');
    expect(config.externalKafkaBrokers).toBeUndefined();
  });

  it('takes serverless.yml params for the stack (the bench sweep sets data_raw partitions so)', () => {
    expect(loadStackConfig({}).params).toEqual([]);
    expect(
      loadStackConfig({ DRIFTLINE_SERVERLESS_PARAMS: ' rawTopicPartitions=5  replayRate=0 ' }).params,
    ).toEqual(['rawTopicPartitions=5', 'replayRate=0']);
    expect(() => loadStackConfig({ DRIFTLINE_SERVERLESS_PARAMS: '5' })).toThrow(
      /DRIFTLINE_SERVERLESS_PARAMS/,
    );
  });

  it('refuses a port out of range', () => {
    expect(() => loadStackConfig({ DRIFTLINE_KAFKA_PORT: '70000' })).toThrow(/DRIFTLINE_KAFKA_PORT/);
  });
});
