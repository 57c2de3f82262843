import type { PrismaClient, Role } from '@pigeon/schema';
import type { Logger, RenderJobData } from '@pigeon/worker';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiEnv } from './env.ts';
import type { Principal } from './principal.ts';

/** What every resolver may use. Built per request by app.ts (or directly by tests). */
export interface Context {
  prisma: PrismaClient;
  redis: Redis;
  renderQueue: Queue<RenderJobData>;
  env: ApiEnv;
  log: Logger;
  principal: Principal | null;
  csrfRejected: boolean;
  /** The client's address as seen by the server (for rate limits). */
  clientAddress: string;
  /** Set-Cookie values to add to this request's response. */
  responseCookies: string[];
  /** Per-request cache of the caller's role in each environment's project. */
  roleCache: Map<string, Promise<Role | null>>;
}
