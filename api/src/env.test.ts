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

  it('stops the start command with that message and no stack trace', () => {
    const start = fileURLToPath(new URL('./start.ts', import.meta.url));
    const run = spawnSync(process.execPath, [start], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Invalid configuration');
    expect(run.stderr).toContain('PORT:');
    expect(run.stderr).not.toContain('    at ');
  });
});
