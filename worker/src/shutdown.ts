import type { Logger } from './log.ts';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping fails or outlasts
 * `graceMs`). Each entry point passes what it owns, in the order it must stop. Also logs (instead of
 * crashing on) unhandled promise rejections.
 */
export function stopOnSignals(log: Logger, stop: () => Promise<void>, graceMs = 20_000): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    setTimeout(() => process.exit(1), graceMs).unref();
    stop().then(
      () => process.exit(0),
      (error) => {
        log.error('stopping failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A promise some library left unhandled (a stream's socket, a Redis reply) must not take down a
  // process that serves thousands of other connections: log it loudly and carry on.
  process.on('unhandledRejection', (error) => log.error('unhandled rejection', { error }));
}
