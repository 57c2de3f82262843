// Template sandbox: renders tenant-written Nunjucks templates (title, body, action URL) with
// notification data.
//
// Threat model. Template text comes from tenants through the dashboard and the API, so it is
// hostile input that gets *compiled to JavaScript* by Nunjucks, which has no sandbox: known
// payloads (`range.constructor("return process")()`, `"".constructor.constructor`,
// `x["constr" ~ "uctor"]`, and two compiler injections found while building this, see
// template-policy.ts) run arbitrary code with the server's rights. Data comes from API callers and
// is only JSON. A template must not reach Node internals, must not read other tenants' data, and
// must not stop or starve the process: `{{ range(0, 1e9) }}` would block the event loop or
// exhaust the heap, because Nunjucks renders synchronously.
//
// Layers of defence, each meant to hold on its own:
// 1. Allow-list of the parse tree (template-policy.ts), before anything is compiled: only known
//    node types, identifier names, vetted filters and tests; no calls, macros, includes,
//    imports, inheritance, regex literals, `constructor`/`prototype`/`__*` names.
//    `checkTemplate` runs it on the calling thread, so the API can refuse a template at save
//    time; the render thread runs it again on the exact tree it compiles.
// 2. Guarded runtime (render-thread.ts): own-property-only lookups that refuse forbidden keys at
//    run time too (computed keys such as `x[key]` are allowed and checked there), no function
//    ever reaches a template, no globals (`range`, `cycler`, `joiner` do not exist), no loaders,
//    data rebuilt from JSON as null-prototype objects, built-in prototypes frozen.
// 3. Budgets inside the thread: total loop iterations, output size, and the size of every string
//    the template builds. These also keep single allocations small, which matters because
//    `resourceLimits` is best-effort: one huge allocation aborts the whole process
//    (nodejs/node#47224), not just the thread.
// 4. Isolation: rendering runs in `worker_threads` with `resourceLimits`, an empty `process.env`,
//    and a wall-clock timeout after which the thread is terminated and replaced. A thread dying
//    of OOM fails only the render it was doing.
//
// Escaping. Autoescape is on for title and body: they are HTML-safe text in which *data* cannot
// inject markup (`<`, `>`, `&`, quotes in data come out as entities), while the template's own
// literal text is passed through as written. Clients that display them as plain text must decode
// entities; clients that insert them as HTML must still sanitise the template author's own
// markup. The action URL is not HTML-escaped (that would corrupt `&` in query strings); it is
// validated instead: an absolute http(s) URL without credentials or a path starting with one "/".
//
// Failures. A problem with the template or its output is returned as data (`{ ok: false }`),
// never thrown: retrying cannot fix it. Only infrastructure failures throw (sandbox closed, a
// thread that cannot start or dies unexpectedly, data that is not serialisable JSON).

import { Worker } from 'node:worker_threads';
import type { RenderRequest, ThreadData, ThreadLimits, ThreadMessage } from './render-thread.ts';
import { checkSource } from './template-policy.ts';

/** The template texts of one notification; `actionUrl` is optional. */
export interface TemplateSources {
  title: string;
  body: string;
  actionUrl?: string | null;
}

/** A rendered notification. `title` and `body` are HTML-escaped where data was inserted. */
export interface RenderedContent {
  title: string;
  body: string;
  /** Validated absolute http(s) URL or path starting with "/"; null when absent or rendered empty. */
  actionUrl: string | null;
}

export type TemplateField = 'title' | 'body' | 'actionUrl';

export type TemplateErrorKind =
  /** The template does not parse. */
  | 'syntax'
  /** The template uses something the sandbox does not allow (found before or during rendering). */
  | 'forbidden'
  /** An output tag printed an undefined or null value. */
  | 'undefined'
  /** Any other error while rendering (wrong types for a filter, …). */
  | 'runtime'
  /** Rendering took longer than `timeoutMs`. */
  | 'timeout'
  /** The render thread ran out of heap (`maxHeapMb`). */
  | 'memory'
  /** Loops would run more than `maxLoopIterations` times in total. */
  | 'loop-limit'
  /** The output, or a string built while rendering, exceeds the output limit. */
  | 'output-too-large'
  /** A template is larger than `maxSourceBytes`. */
  | 'source-too-large'
  /** The data, as JSON, is larger than `maxDataBytes`. */
  | 'data-too-large'
  /** The rendered action URL is not an http(s) URL or a path. */
  | 'invalid-url';

/** Why a notification could not be rendered. Permanent: the same input fails the same way. */
export interface TemplateError {
  /** `data` only for `data-too-large`. */
  field: TemplateField | 'data';
  kind: TemplateErrorKind;
  /** Meant for the template's author; never contains server internals. */
  message: string;
  /** 1-based, when known. */
  line?: number;
  column?: number;
}

export type RenderOutcome = { ok: true; content: RenderedContent } | { ok: false; error: TemplateError };

export interface TemplateSandboxOptions {
  /** Render threads, started on demand. Default 2. */
  threads?: number;
  /** Wall-clock limit of one render (all fields); the thread is terminated when it passes. Default 1000. */
  timeoutMs?: number;
  /** Old-generation heap of each thread in MB. Default 64. */
  maxHeapMb?: number;
  /** Limit of each rendered field in UTF-8 bytes. Default 256 KiB. */
  maxOutputBytes?: number;
  /** Limit of each template in UTF-8 bytes. Default 64 KiB. */
  maxSourceBytes?: number;
  /** Limit of the data as JSON in UTF-8 bytes. Default 1 MiB. */
  maxDataBytes?: number;
  /** Loop iterations allowed per field, nested loops counting each inner iteration. Default 10,000. */
  maxLoopIterations?: number;
}

export interface TemplateSandbox {
  /**
   * Renders the templates with `data` (a JSON-serialisable object). Resolves with
   * `{ ok: false, error }` for anything wrong with the templates or their output; rejects only
   * for infrastructure failures, which are worth retrying.
   *
   * @example
   * const outcome = await sandbox.render({ title: 'Hi {{ name }}', body: '…' }, { name: 'Ada' });
   * if (!outcome.ok) throw new UnrecoverableError(`${outcome.error.field}: ${outcome.error.message}`);
   */
  render(sources: TemplateSources, data: unknown): Promise<RenderOutcome>;
  /** Terminates the threads. Pending renders reject; later calls to `render` reject. */
  close(): Promise<void>;
}

const DEFAULTS = {
  threads: 2,
  timeoutMs: 1000,
  maxHeapMb: 64,
  maxOutputBytes: 256 * 1024,
  maxSourceBytes: 64 * 1024,
  maxDataBytes: 1024 * 1024,
  maxLoopIterations: 10_000,
} satisfies Required<TemplateSandboxOptions>;

const THREAD_URL = new URL('./render-thread.ts', import.meta.url);

/**
 * Checks templates without rendering them: parse plus allow-list, synchronous and cheap (fine
 * on the main thread, e.g. when a template is saved). Returns the first problem found, or null.
 * A template that passes can still fail at render time (undefined data, limits).
 *
 * @example
 * const problem = checkTemplate({ title: '{{ user.name }}', body: '{{ range.constructor }}' });
 * // → { field: 'body', kind: 'forbidden', message: 'access to "constructor" is not allowed', line: 1, column: 10 }
 */
export function checkTemplate(sources: TemplateSources, options: { maxSourceBytes?: number } = {}): TemplateError | null {
  const maxSourceBytes = positiveInteger(options.maxSourceBytes ?? DEFAULTS.maxSourceBytes, 'maxSourceBytes');
  for (const [field, source] of templateFields(sources)) {
    const problem = checkSource(field, source, maxSourceBytes);
    if (problem !== null) return problem;
  }
  return null;
}

function templateFields(sources: TemplateSources): Array<[TemplateField, string]> {
  if (typeof sources !== 'object' || sources === null) throw new TypeError('template sources must be an object');
  const { title, body, actionUrl } = sources;
  if (typeof title !== 'string' || typeof body !== 'string') throw new TypeError('title and body templates must be strings');
  if (actionUrl !== undefined && actionUrl !== null && typeof actionUrl !== 'string')
    throw new TypeError('the actionUrl template must be a string or null');
  const fields: Array<[TemplateField, string]> = [
    ['title', title],
    ['body', body],
  ];
  if (typeof actionUrl === 'string') fields.push(['actionUrl', actionUrl]);
  return fields;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

interface Job {
  request: RenderRequest;
  resolve(outcome: RenderOutcome): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | undefined;
  progress: Int32Array;
  /** Last 'error' event; 'exit' follows it and decides. */
  error: Error | undefined;
}

const FIELD_ORDER: readonly TemplateField[] = ['title', 'body', 'actionUrl'];

/**
 * Starts a pool of render threads (lazily: the first render starts the first thread). Idle
 * threads do not keep the process alive. One sandbox per process is enough; it is safe to share.
 *
 * @example
 * const sandbox = createTemplateSandbox();
 * const outcome = await sandbox.render(
 *   { title: 'Order {{ order.id }} shipped', body: 'Hi {{ name | default("there") }}', actionUrl: '/orders/{{ order.id }}' },
 *   { name: 'Ada', order: { id: 42 } },
 * );
 * await sandbox.close();
 */
export function createTemplateSandbox(options: TemplateSandboxOptions = {}): TemplateSandbox {
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value = options[key];
    if (value !== undefined) settings[key] = positiveInteger(value, key);
  }
  const limits: ThreadLimits = {
    maxSourceBytes: settings.maxSourceBytes,
    maxOutputBytes: settings.maxOutputBytes,
    maxLoopIterations: settings.maxLoopIterations,
  };
  const resourceLimits = {
    maxOldGenerationSizeMb: settings.maxHeapMb,
    maxYoungGenerationSizeMb: Math.max(4, Math.round(settings.maxHeapMb / 4)),
    stackSizeMb: 4,
  };

  const queue: Job[] = [];
  const slots = new Set<Slot>();
  const terminations = new Set<Promise<unknown>>();
  let nextId = 1;
  let closed = false;

  function spawn(): void {
    const progress = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const workerData: ThreadData = { limits, progress };
    const worker = new Worker(THREAD_URL, {
      name: 'template-sandbox',
      workerData,
      resourceLimits,
      // The thread sees no environment variables (no credentials) and no inherited flags.
      env: {},
      execArgv: [],
    });
    const slot: Slot = { worker, ready: false, job: null, timer: undefined, progress, error: undefined };
    slots.add(slot);
    worker.on('message', (message: ThreadMessage) => onMessage(slot, message));
    worker.on('error', (error) => {
      slot.error = error;
    });
    worker.on('exit', () => onExit(slot));
  }

  function retire(slot: Slot): void {
    slots.delete(slot);
    clearTimeout(slot.timer);
    const termination = slot.worker.terminate().catch(() => undefined);
    terminations.add(termination);
    void termination.finally(() => terminations.delete(termination));
  }

  function pump(): void {
    if (closed) return;
    for (const slot of slots) {
      if (slot.ready && slot.job === null) {
        const job = queue.shift();
        if (job === undefined) slot.worker.unref();
        else dispatch(slot, job);
      }
    }
    let starting = 0;
    for (const slot of slots) if (!slot.ready) starting++;
    while (queue.length > starting && slots.size < settings.threads) {
      spawn();
      starting++;
    }
  }

  function dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    Atomics.store(slot.progress, 0, 0);
    slot.worker.ref();
    slot.worker.postMessage(job.request);
    slot.timer = setTimeout(() => onTimeout(slot), settings.timeoutMs);
  }

  function takeJob(slot: Slot): Job | null {
    const { job } = slot;
    slot.job = null;
    clearTimeout(slot.timer);
    return job;
  }

  function currentField(slot: Slot): TemplateField {
    return FIELD_ORDER[Atomics.load(slot.progress, 0)] ?? 'body';
  }

  // A thread killed by a hostile template is replaced at once rather than on the next render,
  // so that the ~100 ms of starting a thread is not paid by whichever render comes next.
  function replaceThread(): void {
    if (!closed && slots.size < settings.threads) spawn();
  }

  function onTimeout(slot: Slot): void {
    const field = currentField(slot);
    const job = takeJob(slot);
    // Terminating is the only way to stop a synchronous render.
    retire(slot);
    replaceThread();
    job?.resolve({ ok: false, error: { field, kind: 'timeout', message: `rendering took longer than ${settings.timeoutMs} ms` } });
    pump();
  }

  function onMessage(slot: Slot, message: ThreadMessage): void {
    if (message.type === 'ready') {
      slot.ready = true;
      pump();
      return;
    }
    if (slot.job === null || slot.job.request.id !== message.id) return;
    const job = takeJob(slot);
    if (message.type === 'result') job?.resolve(message.outcome);
    else job?.reject(new Error(`template sandbox thread failed: ${message.message}`));
    pump();
  }

  function onExit(slot: Slot): void {
    const wasRunning = slots.has(slot);
    slots.delete(slot);
    if (!wasRunning || closed) return; // retired on purpose
    const field = currentField(slot);
    const job = takeJob(slot);
    const error = slot.error;
    if (job !== null) {
      if ((error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        replaceThread();
        job.resolve({
          ok: false,
          error: { field, kind: 'memory', message: `rendering needed more than the ${settings.maxHeapMb} MB memory limit` },
        });
      } else {
        job.reject(new Error('template sandbox thread exited unexpectedly', { cause: error }));
      }
    } else if (!slot.ready) {
      // A thread that cannot start will not start on the next attempt either: fail what is
      // waiting rather than respawning in a loop. The next render tries again.
      for (const waiting of queue.splice(0)) waiting.reject(new Error('template sandbox thread failed to start', { cause: error }));
      return;
    }
    pump();
  }

  return {
    render(sources, data) {
      if (closed) return Promise.reject(new Error('the template sandbox is closed'));
      let request: RenderRequest;
      try {
        const fields = new Map(templateFields(sources));
        for (const [field, source] of fields) {
          const bytes = Buffer.byteLength(source, 'utf8');
          if (bytes > settings.maxSourceBytes) {
            return Promise.resolve({
              ok: false,
              error: { field, kind: 'source-too-large', message: `template is ${bytes} bytes; the limit is ${settings.maxSourceBytes}` },
            });
          }
        }
        const json = serialiseData(data);
        const bytes = Buffer.byteLength(json, 'utf8');
        if (bytes > settings.maxDataBytes) {
          return Promise.resolve({
            ok: false,
            error: {
              field: 'data',
              kind: 'data-too-large',
              message: `data is ${bytes} bytes as JSON; the limit is ${settings.maxDataBytes}`,
            },
          });
        }
        request = {
          id: nextId++,
          title: fields.get('title') ?? '',
          body: fields.get('body') ?? '',
          actionUrl: fields.get('actionUrl') ?? null,
          data: json,
        };
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<RenderOutcome>((resolve, reject) => {
        queue.push({ request, resolve, reject });
        pump();
      });
    },

    async close() {
      if (!closed) {
        closed = true;
        const error = new Error('the template sandbox was closed');
        for (const job of queue.splice(0)) job.reject(error);
        for (const slot of [...slots]) {
          takeJob(slot)?.reject(error);
          retire(slot);
        }
      }
      await Promise.all(terminations);
    },
  };
}

function serialiseData(data: unknown): string {
  if (data === undefined || data === null) return '{}';
  if (typeof data !== 'object' || Array.isArray(data)) throw new TypeError('template data must be an object');
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('template data must be JSON-serialisable');
  return json;
}
