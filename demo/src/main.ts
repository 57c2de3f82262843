// `npm run demo`: the embedded platform (a child process), then the demo app in front of it —
// page, token and send routes, webhook receiver — and one line saying what to open.
import { isAbsolute, relative } from 'node:path';
import { Pigeon } from '@pigeon/node';
import { bundlePage } from './bundle.ts';
import { loadDemoEnv } from './env.ts';
import { type Platform, startPlatform } from './platform.ts';
import { createDemoServer } from './server.ts';
import { ensureReceiverEndpoint } from './webhook-endpoint.ts';
import { WebhookLog } from './webhook-log.ts';

const env = loadDemoEnv();

let platform: Platform | undefined;
let server: ReturnType<typeof createDemoServer> | undefined;
let stopping = false;
async function stop(code: number): Promise<void> {
  if (!stopping) {
    stopping = true;
    await server?.stop().catch(() => {});
    await platform?.stop();
  }
  process.exit(code);
}
// Ctrl-C reaches the platform child too (same process group); stop() waits until it has finished.
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

try {
  // Bundled first: a page that does not compile stops the demo before anything starts.
  const assets = await bundlePage();
  const running = await startPlatform({
    dataDir: env.DEMO_DATA_DIR,
    port: env.PIGEON_PORT,
    redisPrefix: env.DEMO_REDIS_PREFIX,
    logLevel: env.PIGEON_LOG_LEVEL,
    inherited: env.inherited,
  });
  platform = running;
  running.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`\nThe Pigeon platform exited (code ${code}); stopping the demo.\n`);
    void stop(1);
  });

  const pigeon = new Pigeon({ apiKey: running.apiKey, baseUrl: running.serverUrl });
  const receiver = new WebhookLog();
  let endpoint: { id: string; url: string } | null = null;
  server = createDemoServer({ pigeon, pigeonUrl: running.url, receiver, assets, port: env.PORT, endpoint: () => endpoint });
  const url = await server.start();
  const receiverUrl = `http://127.0.0.1:${new URL(url).port}/webhooks/pigeon`;
  const ensured = await ensureReceiverEndpoint(pigeon, receiverUrl, receiver);
  endpoint = { id: ensured.endpoint.id, url: ensured.endpoint.url };

  const rel = relative(process.cwd(), env.DEMO_DATA_DIR);
  const dataDir = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : env.DEMO_DATA_DIR;
  process.stdout.write(
    [
      '',
      `Pigeon demo: open ${url}`,
      `  API ${running.url}/graphql, embedded database in ${dataDir}, webhooks to ${receiverUrl}. Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );
} catch (error) {
  process.stderr.write(`\nThe demo could not start: ${(error as Error)?.message ?? error}\n\n`);
  await stop(1);
}
