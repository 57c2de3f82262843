import type { Database, PrismaClient, Role } from '@pigeon/schema';
import type { Logger, RenderJobData, WakeUpPublisher, WebhookJobData } from '@pigeon/worker';
import type { RenderOutcome, TemplateSources } from '@pigeon/worker/render/sandbox';
import type { TargetPolicy } from '@pigeon/worker/webhooks/target';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiKeyResolver } from './auth/api-keys.ts';
import type { ClientTokenVerifier } from './auth/client-token.ts';
import type { ApiEnv } from './env.ts';
import type { InboxHub } from './inbox/live.ts';
import type { InboxStreamHooks } from './inbox/stream.ts';
import type { Principal } from './principal.ts';

/** What every resolver may use. Built per request by app.ts (or directly by tests). */
export interface Context {
  prisma: PrismaClient;
  redis: Redis;
  renderQueue: Queue<RenderJobData>;
  webhookQueue: Queue<WebhookJobData>;
  /** Where webhook endpoint URLs may point (checked when they are created or changed). */
  webhookTargets: TargetPolicy;
  env: ApiEnv;
  log: Logger;
  principal: Principal | null;
  csrfRejected: boolean;
  /** The client's address as seen by the server (for rate limits). */
  clientAddress: string;
  /** Set-Cookie values to add to this request's response. */
  responseCookies: string[];
  clientTokens: ClientTokenVerifier;
  /** One statement straight on the driver (send's hot path only; see Database.query). */
  sql: Database['query'];
  /** This process's cache of API-key principals (revocations and environment changes drop entries). */
  apiKeys: ApiKeyResolver;
  inbox: InboxRuntime;
  /** Renders template previews in the worker's sandbox (threads started on first use). */
  templatePreview: TemplatePreview;
  /** Per-request cache of the caller's role in each environment's project. */
  roleCache: Map<string, Promise<Role | null>>;
}

export interface TemplatePreview {
  render(sources: TemplateSources, data: unknown): Promise<RenderOutcome>;
}

/** The live-inbox parts of an API process. */
export interface InboxRuntime {
  hub: InboxHub;
  /** Announces inbox changes made by this process (after commit). */
  wakeUps: WakeUpPublisher;
  hooks: InboxStreamHooks;
}
