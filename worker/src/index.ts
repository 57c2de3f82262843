export { type InboxWakeUp, inboxChannel, redisWakeUpPublisher, type WakeUpPublisher } from './channels.ts';
export { ConfigError, loadOrExit, loadWorkerEnv, parseEnv, type WorkerEnv, workerEnvSchema } from './env.ts';
export { pruneInboxEvents } from './inbox-pruner.ts';
export {
  createRenderQueue,
  createWebhookQueue,
  enqueueRender,
  enqueueRenders,
  enqueueWebhooks,
  type RenderJobData,
  renderJob,
  type WebhookJobData,
  type WebhookJobRequest,
  webhookJob,
} from './jobs.ts';
export { createLogger, type Logger, type LogLevel } from './log.ts';
export { reconcileAccepted } from './reconciler.ts';
export {
  startWorkerRuntime,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
  webhookSettings,
  workerRuntimeSettings,
} from './runtime.ts';
export { stopOnSignals } from './shutdown.ts';
export { ENQUEUE_TIMEOUT_MS, withTimeout } from './timeout.ts';
export { disableEndpoint, enqueueOrLeave, type WebhookSettings } from './webhooks/deliver.ts';
export {
  INBOX_ACTION_EVENTS,
  isWebhookEventType,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TEST_EVENT,
  type WebhookEventType,
} from './webhooks/events.ts';
export { pruneWebhookLog, reconcileWebhookDeliveries } from './webhooks/maintenance.ts';
export { newWebhookSecret, SECRET_PREFIX, signWebhook } from './webhooks/secret.ts';
