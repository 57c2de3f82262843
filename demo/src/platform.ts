// The embedded platform as a child process: exactly what `npm start` runs (api/src/start.ts), on the
// demo's own data directory. The demo reaches it only as a customer would, over HTTP with an API key.
//
// The key: the seed prints a new one each time it runs and stores only its hash, so the demo seeds
// once (before the platform owns the directory), keeps the key next to the database, and seeds
// again only when the platform no longer accepts it (say the database was deleted but not the key).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pigeon, UnauthenticatedError } from '@pigeon/node';

const START = fileURLToPath(new URL('../../api/src/start.ts', import.meta.url));
const SEED = fileURLToPath(new URL('../../api/src/seed-cli.ts', import.meta.url));
const STARTUP_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 25_000;

export interface PlatformOptions {
  dataDir: string;
  port: number;
  redisPrefix: string;
  logLevel: string;
  /** The environment the child inherits (our own minus what we set). */
  inherited: Record<string, string | undefined>;
}

export interface Platform {
  /** The API as the browser reaches it, e.g. http://localhost:4000. */
  url: string;
  /** The same API for this process (IPv4 loopback: no IPv6-first lookup of "localhost"). */
  serverUrl: string;
  apiKey: string;
  /** Resolves when the child exits, for whatever reason. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts the platform and returns once its API answers and accepts the key. */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  mkdirSync(options.dataDir, { recursive: true });
  const keyFile = join(options.dataDir, 'api-key');
  const env = childEnv(options);

  let apiKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : await seedKey(env, keyFile);
  let platform = await spawnPlatform(env, apiKey);
  if (!(await accepts(platform.serverUrl, apiKey))) {
    // Only one process may own the embedded database, so seeding means stopping the platform.
    process.stderr.write('The saved demo API key is not accepted by this database: seeding a new one.\n');
    await platform.stop();
    apiKey = await seedKey(env, keyFile);
    platform = await spawnPlatform(env, apiKey);
    if (!(await accepts(platform.serverUrl, apiKey))) {
      await platform.stop();
      throw new Error('The platform refuses the freshly seeded API key.');
    }
  }
  return platform;
}

function childEnv(options: PlatformOptions): NodeJS.ProcessEnv {
  return {
    ...options.inherited,
    // Always the embedded database: a DATABASE_URL meant for something else must not be seeded.
    DATABASE_URL: '',
    PIGEON_DATA_DIR: join(options.dataDir, 'pglite'),
    PORT: String(options.port),
    HOST: '127.0.0.1',
    REDIS_PREFIX: options.redisPrefix,
    LOG_LEVEL: options.logLevel,
    // The demo seeds through seed-cli itself (it needs the key); the start must not seed again.
    SEED_ON_FIRST_START: 'false',
  };
}

/** Runs `npm run seed`'s script on the (not yet owned) data directory and saves the key it prints. */
async function seedKey(env: NodeJS.ProcessEnv, keyFile: string): Promise<string> {
  const child = spawn(process.execPath, [SEED], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stdout, stderr } = await collect(child);
  const key = /^PIGEON_API_KEY=(\S+)$/m.exec(stdout)?.[1];
  if (code !== 0 || !key) throw new Error(`Seeding the demo database failed (exit ${code}).\n${stderr || stdout}`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const login = /^PIGEON_DEMO_LOGIN=(.+)$/m.exec(stdout)?.[1];
  if (login) process.stdout.write(`Seeded the demo database. Dashboard login (shown once): ${login}\n`);
  return key;
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function spawnPlatform(env: NodeJS.ProcessEnv, apiKey: string): Promise<Platform> {
  // The same V8 flag as `npm start` (see the root README: memory per SSE stream).
  const child = spawn(process.execPath, ['--max-semi-space-size=8', START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // However the demo ends, the platform must not stay behind (holding the database). SIGTERM, not
  // SIGKILL: it then shuts down cleanly on its own, even after we are gone.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  exited.then(() => process.off('exit', killOnExit));

  let stdout = '';
  let stderrTail = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    // Its logs (warnings and errors by default) stay visible; the tail explains a failed start.
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk).slice(-4000);
  });

  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The platform did not start within 2 minutes.')), STARTUP_TIMEOUT_MS);
    const onData = () => {
      const url = /GraphQL: +(\S+)\/graphql/.exec(stdout)?.[1];
      if (url) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(url);
      }
    };
    child.stdout.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The platform exited during start-up (exit ${code}).${stderrTail ? `\n${stderrTail.trim()}` : ''}`));
    });
  });
  const port = new URL(banner).port;
  const serverUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(serverUrl);

  return {
    url: banner,
    serverUrl,
    apiKey,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The banner comes after the server listens; /readyz also confirms the database and Redis answer. */
async function waitUntilReady(serverUrl: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${serverUrl}/readyz`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${serverUrl}/readyz did not answer 200 within 30 s.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function accepts(serverUrl: string, apiKey: string): Promise<boolean> {
  try {
    await new Pigeon({ apiKey, baseUrl: serverUrl, maxRetries: 0 }).webhooks.list();
    return true;
  } catch (error) {
    if (error instanceof UnauthenticatedError) return false;
    throw error;
  }
}
