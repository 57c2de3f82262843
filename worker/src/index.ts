export { type InboxWakeUp, inboxChannel, redisWakeUpPublisher, type WakeUpPublisher } from './channels.ts';
export { ConfigError, loadOrExit, loadWorkerEnv, parseEnv, type WorkerEnv, workerEnvSchema } from './env.ts';
export { pruneInboxEvents } from './inbox-pruner.ts';
export { createRenderQueue, enqueueRender, enqueueRenders, type RenderJobData, renderJob } from './jobs.ts';
export { createLogger, type Logger, type LogLevel } from './log.ts';
export { reconcileAccepted } from './reconciler.ts';
export { startWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions, workerRuntimeSettings } from './runtime.ts';
export { stopOnSignals } from './shutdown.ts';
