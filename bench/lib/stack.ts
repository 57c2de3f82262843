// Starts the scaled topology a bench runs against: its own database and Redis prefix, API processes
// (api/src/main.ts) and a worker process (worker/src/main.ts), each a separate OS process so CPU and
// memory can be read per process.
import {
  API_ENTRY,
  type Cleanup,
  createBenchDatabase,
  flushRedisPrefix,
  freePort,
  REDIS_URL,
  type Service,
  spawnService,
  uniqueName,
  WORKER_ENTRY,
  waitForHttp,
} from './platform.ts';

export interface Stack {
  databaseUrl: string;
  databaseName: string;
  prefix: string;
  /** Starts an API process on a free port; resolves once /readyz answers. */
  startApi(
    name: string,
    options?: { probe?: boolean; env?: Record<string, string>; nodeArgs?: string[] },
  ): Promise<{ service: Service; baseUrl: string }>;
  startWorker(name: string, options?: { probe?: boolean; env?: Record<string, string>; nodeArgs?: string[] }): Service;
}

export async function createStack(cleanup: Cleanup, logLevel = 'warn'): Promise<Stack> {
  const database = await createBenchDatabase();
  cleanup.add(() => database.drop());
  const prefix = uniqueName('pigeonbench');
  cleanup.add(() => flushRedisPrefix(prefix));
  const common = {
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: logLevel,
  };
  return {
    databaseUrl: database.url,
    databaseName: database.name,
    prefix,
    async startApi(name, options = {}) {
      const port = await freePort();
      const service = spawnService(
        name,
        API_ENTRY,
        {
          ...common,
          PORT: String(port),
          HOST: '127.0.0.1',
          // The bench signs up from one address.
          SIGNUP_MAX_PER_HOUR: '1000',
          GRAPHIQL: 'false',
          ...options.env,
        },
        { probe: options.probe, nodeArgs: options.nodeArgs },
      );
      cleanup.add(() => service.stop());
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitForHttp(`${baseUrl}/readyz`, service);
      return { service, baseUrl };
    },
    startWorker(name, options = {}) {
      const service = spawnService(name, WORKER_ENTRY, { ...common, ...options.env }, { probe: options.probe, nodeArgs: options.nodeArgs });
      cleanup.add(() => service.stop());
      return service;
    },
  };
}
