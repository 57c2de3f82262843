// Reads a Node process's heap from outside, through the inspector (Chrome DevTools Protocol over
// WebSocket): the process only needs `--inspect=127.0.0.1:<port>`, no code of its own. Used by the
// hostile-input test to compare the API's heap after a forced GC before and after a burst.
//
//   const inspector = await connectInspector(port);
//   const bytes = await inspector.heapAfterGc();   // full GCs, then Runtime.getHeapUsage().usedSize
//   inspector.close();
import { sleep, waitFor } from './services.ts';

export interface Inspector {
  /** Heap in use (bytes) after forcing full garbage collections. */
  heapAfterGc(): Promise<number>;
  /** Calls one protocol method and returns its result. */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): void;
}

export async function connectInspector(port: number): Promise<Inspector> {
  let target: string | undefined;
  await waitFor(
    `the inspector on port ${port}`,
    async () => {
      try {
        const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
        target = list[0]?.webSocketDebuggerUrl;
        return target !== undefined;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000 },
  );
  const socket = new WebSocket(target as string);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot open the inspector WebSocket ${target}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  socket.addEventListener('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('the inspector connection closed'));
    pending.clear();
  });
  const call = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    async heapAfterGc() {
      // Several full collections a moment apart: finalizers and weak callbacks free more on the next one.
      for (let i = 0; i < 3; i++) {
        await call('HeapProfiler.collectGarbage');
        await sleep(100);
      }
      const usage = await call<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
      return usage.usedSize;
    },
    close() {
      socket.close();
    },
  };
}
