// Bounded waits for work that can also be done later: an enqueue after commit waits this long for
// Redis and is otherwise left to the reconcilers (ioredis with maxRetriesPerRequest: null would
// wait for a Redis that is down forever).

/** How long an enqueue after commit waits for Redis before leaving the job to a reconciler. */
export const ENQUEUE_TIMEOUT_MS = 500;

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
