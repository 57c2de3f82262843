import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@pigeon/worker';
import { describe, expect, it } from 'vitest';
import { loadApiEnv } from './env.ts';

describe('loadApiEnv', () => {
  it('fills defaults and treats empty strings as unset', () => {
    const env = loadApiEnv({ PORT: '', DATABASE_URL: '' });
    expect(env).toMatchObject({
      PORT: 4000,
      HOST: '127.0.0.1',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'pigeon',
      COOKIE_SECURE: false,
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PIGEON_DATA_DIR).toMatch(/\.data\/pglite$/);
  });

  it('names every bad variable in one readable message', () => {
    const bad = () => loadApiEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', REDIS_PREFIX: 'has space', COOKIE_SECURE: 'yes' });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'REDIS_PREFIX', 'COOKIE_SECURE']) expect(message).toContain(`${name}:`);
    }
  });

  it('parses the webhook settings and names a bad schedule or allow-list entry', () => {
    const env = loadApiEnv({ WEBHOOK_RETRY_SCHEDULE: '0s, 500ms, 2m', WEBHOOK_ALLOW_LIST: '10.0.0.0/8, hooks.internal:8443' });
    expect(env.WEBHOOK_RETRY_SCHEDULE).toEqual([0, 500, 120_000]);
    expect(env.WEBHOOK_ALLOW_LIST).toBe('10.0.0.0/8, hooks.internal:8443');
    expect(loadApiEnv({}).WEBHOOK_RETRY_SCHEDULE).toHaveLength(8);
    expect(() => loadApiEnv({ WEBHOOK_RETRY_SCHEDULE: '5s,later' })).toThrow(/WEBHOOK_RETRY_SCHEDULE: .*"later"/);
    expect(() => loadApiEnv({ WEBHOOK_ALLOW_LIST: '10.0.0.0/8, not a network' })).toThrow(/WEBHOOK_ALLOW_LIST: /);
  });

  it('stops the start command with that message and no stack trace', () => {
    const start = fileURLToPath(new URL('./start.ts', import.meta.url));
    const run = spawnSync(process.execPath, [start], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Invalid configuration');
    expect(run.stderr).toContain('PORT:');
    expect(run.stderr).not.toContain('    at ');
  });
});
