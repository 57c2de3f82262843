// Entry point of a template sandbox thread (started by sandbox.ts; never import it elsewhere: it
// freezes the built-in prototypes of the thread it runs in).
//
// A thread renders one notification at a time, synchronously. The main thread enforces the time
// limit by terminating the thread and reads `progress` to know which field was rendering.
// Everything here assumes the template already passed the allow-list (parseAndCheck runs again
// here, on the very tree that gets compiled) and adds the run-time half of the sandbox:
// - member and variable lookups read own properties only, refuse forbidden names, and never
//   hand out a function; calls throw (they are refused statically too);
// - the environment has no globals, no loaders, only vetted filters and tests;
// - data arrives as JSON text and is rebuilt as null-prototype objects;
// - loop iterations, output and every string the template builds are bounded. That last point
//   matters beyond tidiness: `resourceLimits` is best-effort, and one large allocation (say
//   `toUpperCase` of a 256 MB string) aborts the whole *process*, not just this thread
//   (nodejs/node#47224). So no value here may grow much past a few MB in one piece.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { RenderOutcome, TemplateError, TemplateErrorKind, TemplateField } from './sandbox.ts';
import type { SourceProblem, TemplateNode } from './template-policy.ts';
import { ALLOWED_FILTERS, ALLOWED_TESTS, isSafeKey, nunjucksInternals, parseAndCheck } from './template-policy.ts';

/** Message from the main thread: one notification to render. */
export interface RenderRequest {
  id: number;
  title: string;
  body: string;
  actionUrl: string | null;
  /** JSON text of the data object. */
  data: string;
}

export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; outcome: RenderOutcome }
  | { type: 'failure'; id: number; message: string };

export interface ThreadLimits {
  maxSourceBytes: number;
  maxOutputBytes: number;
  maxLoopIterations: number;
}

export interface ThreadData {
  limits: ThreadLimits;
  /** [0]: index into FIELDS of the field being rendered, for errors reported after termination. */
  progress: Int32Array;
}

const FIELDS: readonly TemplateField[] = ['title', 'body', 'actionUrl'];

if (isMainThread || parentPort === null) {
  throw new Error('render-thread.ts runs only as a worker thread started by the template sandbox');
}
const port = parentPort;
const { limits, progress } = workerData as ThreadData;

// Longest string a template may build (by `~`, `+`, filters, captures, output): anything larger
// would be refused as output anyway, and keeping each value to a few MB keeps every single
// allocation far below the heap limit (see the top of the file).
const maxValueChars = 4 * limits.maxOutputBytes;

const { nodes, runtime, lib } = nunjucksInternals;
const { SafeString } = runtime;

/** An error raised on purpose by the guards, passed through Nunjucks' error handling unchanged. */
class RenderFault extends Error {
  readonly kind: TemplateErrorKind;
  line: number | undefined;
  column: number | undefined;
  constructor(kind: TemplateErrorKind, message: string, line?: number, column?: number) {
    super(message);
    this.kind = kind;
    this.line = line;
    this.column = column;
  }
}

/** Budgets of the field being rendered; reset before each field. */
const budget = {
  outputChars: 0,
  loopIterations: 0,
  /** "line:column" (0-based) of an output tag → the expression it prints, for undefined errors. */
  outputLabels: new Map<string, string>(),
};

function textOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value instanceof SafeString) return value.val;
  return null;
}

function assertValueSize(value: unknown): void {
  const text = textOf(value);
  if (text !== null && text.length > maxValueChars) {
    throw new RenderFault('output-too-large', `a text value built by the template is longer than ${maxValueChars} characters`);
  }
}

function ownValue(target: unknown, key: string): unknown {
  if (!isSafeKey(key)) throw new RenderFault('forbidden', `access to "${key}" is not allowed`);
  const text = textOf(target);
  const holder: unknown = text ?? target;
  if (holder === null || (typeof holder !== 'object' && typeof holder !== 'string')) return undefined;
  if (!Object.hasOwn(holder as object, key)) return undefined;
  const value: unknown = (holder as Record<string, unknown>)[key];
  if (typeof value === 'function') throw new RenderFault('forbidden', `"${key}" is not a value a template may use`);
  return value;
}

function memberLookup(target: unknown, key: unknown): unknown {
  if (target === undefined || target === null) return undefined;
  if (typeof key === 'number') {
    if (!Number.isInteger(key)) throw new RenderFault('runtime', `${key} is not a valid index`);
    return ownValue(target, String(key));
  }
  if (typeof key === 'string') return ownValue(target, key);
  throw new RenderFault('runtime', `a lookup key must be a string or a number, not ${describeType(key)}`);
}

interface Frame {
  lookup(name: string): unknown;
}

interface RenderContext {
  env: RenderEnvironment;
  lookup(name: string): unknown;
  setVariable(name: string, value: unknown): void;
  addExport(name: string): void;
  getVariables(): Record<string, unknown>;
}

function contextOrFrameLookup(context: RenderContext, frame: Frame, name: string): unknown {
  if (!isSafeKey(name)) throw new RenderFault('forbidden', `the name "${name}" is not allowed`);
  const fromFrame = frame.lookup(name);
  const value = fromFrame !== undefined ? fromFrame : context.lookup(name);
  if (typeof value === 'function') throw new RenderFault('forbidden', `"${name}" is not a value a template may use`);
  return value;
}

function ensureDefined(value: unknown, lineno: number, colno: number): unknown {
  if (value !== null && value !== undefined) return value;
  const label = budget.outputLabels.get(`${lineno}:${colno}`);
  const message = label === undefined ? 'the value to output is undefined or null' : `"${label}" is undefined or null`;
  throw new RenderFault('undefined', message, lineno + 1, colno + 1);
}

function suppressValue(value: unknown, autoescape: boolean): string {
  if (value === null || value === undefined) return '';
  let text: string;
  let escaping = autoescape;
  if (value instanceof SafeString) {
    text = value.val;
    escaping = false;
  } else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (typeof value === 'function') throw new RenderFault('forbidden', 'a function cannot be output');
  else if (Array.isArray(value)) throw new RenderFault('runtime', 'a list cannot be output directly; loop over it or use the join filter');
  else throw new RenderFault('runtime', 'an object cannot be output directly; output one of its fields');
  // Counts static text too (it is routed through here, see rewriteForGuards) and text captured
  // by `{% set %}…{% endset %}` or `{% filter %}`, so the budget bounds every buffer the
  // compiled template accumulates, not only the final output.
  budget.outputChars += text.length;
  if (budget.outputChars > maxValueChars) {
    throw new RenderFault('output-too-large', `the template produced more than ${maxValueChars} characters`);
  }
  return escaping ? lib.escape(text) : text;
}

function fromIterator(value: unknown): unknown {
  let count = 0;
  const text = textOf(value);
  if (text !== null) count = text.length;
  else if (Array.isArray(value)) count = value.length;
  else if (value !== null && typeof value === 'object') count = Object.keys(value).length;
  // Called once per loop execution with the whole sequence, so the sum is the total number of
  // iterations, nested loops included.
  budget.loopIterations += count;
  if (budget.loopIterations > limits.maxLoopIterations) {
    throw new RenderFault('loop-limit', `loops would run more than ${limits.maxLoopIterations} iterations in total`);
  }
  return runtime.fromIterator(value);
}

// What compiled templates receive as `runtime`: only the members the allowed node types compile
// to, so code for a refused construct would fail even if it were compiled.
const guardedRuntime = Object.freeze({
  __proto__: null,
  memberLookup,
  contextOrFrameLookup,
  ensureDefined,
  suppressValue,
  fromIterator,
  callWrap(): never {
    throw new RenderFault('forbidden', 'calling functions is not allowed');
  },
  handleError(error: unknown, lineno: number, colno: number): unknown {
    return error instanceof RenderFault ? error : runtime.handleError(error, lineno, colno);
  },
  inOperator: runtime.inOperator,
  isArray: runtime.isArray,
  keys: runtime.keys,
  makeKeywordArgs: runtime.makeKeywordArgs,
});

type TemplateFunction = (this: unknown, ...args: unknown[]) => unknown;

function describeType(value: unknown): string {
  if (value === null) return 'none';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function attributeName(attribute: unknown): string {
  if (typeof attribute === 'number') return String(attribute);
  if (typeof attribute !== 'string') throw new RenderFault('runtime', 'an attribute name must be a string');
  return attribute;
}

function asList(value: unknown, filter: string): unknown[] {
  if (!Array.isArray(value)) throw new RenderFault('runtime', `the ${filter} filter needs a list, not ${describeType(value)}`);
  return value;
}

function textForJoin(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = textOf(value);
  if (text !== null) return text;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new RenderFault('runtime', `the join filter cannot join ${describeType(value)}`);
}

function countOccurrences(text: string, search: string): number {
  let count = 0;
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + search.length)) count++;
  return count;
}

// Replacements for built-ins that read attributes with `item[attr]` (inherited properties
// included) or that build one large string in a single step.
const replacementFilters: Record<string, TemplateFunction> = {
  join(list, separator, attribute) {
    let items = asList(list, 'join');
    if (attribute !== undefined && attribute !== null) {
      const key = attributeName(attribute);
      items = items.map((item) => ownValue(item, key));
    }
    const parts = items.map(textForJoin);
    const glue = separator === undefined || separator === null ? '' : textForJoin(separator);
    const length = parts.reduce((sum, part) => sum + part.length, 0) + glue.length * Math.max(0, parts.length - 1);
    if (length > maxValueChars)
      throw new RenderFault('output-too-large', `the joined text would be longer than ${maxValueChars} characters`);
    return parts.join(glue);
  },
  sum(list, attribute, start) {
    let items = asList(list, 'sum');
    if (attribute !== undefined && attribute !== null) {
      const key = attributeName(attribute);
      items = items.map((item) => ownValue(item, key));
    }
    let total = (start ?? 0) as number;
    for (const item of items) {
      total = (total + (item as number)) as number;
      assertValueSize(total);
    }
    return total;
  },
  groupby(list, attribute) {
    // Nunjucks' own groupby collects into `{}`, where a group named "constructor" collides with
    // an inherited property.
    const path = attributeName(attribute).split('.');
    const groups: Record<string, unknown[]> = Object.create(null);
    for (const item of asList(list, 'groupby')) {
      const value = path.reduce<unknown>((target, key) => ownValue(target, key), item);
      if (value === undefined || value === null)
        throw new RenderFault('undefined', `groupby: "${path.join('.')}" is undefined for an item`);
      const name = textForJoin(value);
      const group = groups[name];
      if (group === undefined) groups[name] = [item];
      else group.push(item);
    }
    return groups;
  },
  selectattr(list, attribute) {
    const key = attributeName(attribute);
    return asList(list, 'selectattr').filter((item) => Boolean(ownValue(item, key)));
  },
  rejectattr(list, attribute) {
    const key = attributeName(attribute);
    return asList(list, 'rejectattr').filter((item) => !ownValue(item, key));
  },
  replace(text, search, replacement, maxCount) {
    const source = textOf(text);
    const from = typeof search === 'number' ? String(search) : textOf(search);
    const to = typeof replacement === 'number' ? String(replacement) : textOf(replacement);
    if (source !== null && from !== null && to !== null && to.length > from.length) {
      // The result is built in one step, so its length is checked before it exists.
      const occurrences = from === '' ? source.length + 1 : countOccurrences(source, from);
      if (source.length + occurrences * (to.length - from.length) > maxValueChars) {
        throw new RenderFault('output-too-large', `the replaced text would be longer than ${maxValueChars} characters`);
      }
    }
    return builtinFilter('replace').call(this, text, search, replacement, maxCount);
  },
};

const nunjucksEnvironment = new nunjucksInternals.Environment([]);
const builtinFilters = nunjucksEnvironment.filters;

function builtinFilter(name: string): TemplateFunction {
  const filter = builtinFilters[name];
  if (filter === undefined) throw new Error(`nunjucks has no filter "${name}"`);
  return filter;
}

// Arguments inserted into the text by filters whose result keeps the input's safeness
// (Nunjucks' copySafeness): escaped when the input is safe, or data would reach the output
// unescaped through `{{ x | escape | replace("a", data) }}`.
const INSERTED_ARGUMENTS: Readonly<Record<string, readonly number[]>> = { replace: [1, 2], truncate: [3] };
// Case changes that Nunjucks returns as plain strings even for safe input, which would escape
// captured text a second time (`{% filter upper %}`).
const SAFENESS_KEEPING = new Set(['upper', 'lower']);

function guardFilter(name: string, filter: TemplateFunction): TemplateFunction {
  const inserted = INSERTED_ARGUMENTS[name] ?? [];
  const keepsSafeness = SAFENESS_KEEPING.has(name);
  return function guarded(this: unknown, ...args: unknown[]): unknown {
    for (const arg of args) assertValueSize(arg);
    const safeInput = args[0] instanceof SafeString;
    if (safeInput) {
      for (const index of inserted) {
        const arg = args[index];
        if (typeof arg === 'string') args[index] = lib.escape(arg);
      }
    }
    let result = filter.apply(this, args);
    if (typeof result === 'function') throw new RenderFault('forbidden', `the ${name} filter produced a function`);
    if (safeInput && keepsSafeness && typeof result === 'string') result = new SafeString(result);
    assertValueSize(result);
    return result;
  };
}

// Internal filters the rewritten tree calls; their names start with `__`, which the allow-list
// refuses in templates, so only rewriteForGuards can produce calls to them.
const internalFilters: Record<string, TemplateFunction> = {
  __static(text) {
    return new SafeString(text as string);
  },
  // Text captured by `{% set %}…{% endset %}` or `{% filter %}` was escaped while it was
  // produced; marking it safe keeps it from being escaped twice (plain Nunjucks does that).
  __captured(text) {
    return new SafeString(String(text));
  },
  __concat(left, right) {
    const result = `${left as string}${right as string}`;
    assertValueSize(result);
    return result;
  },
  __add(left, right) {
    const result: unknown = (left as number) + (right as number);
    assertValueSize(result);
    return result;
  },
};

const filters: Record<string, TemplateFunction> = Object.create(null);
for (const name of ALLOWED_FILTERS) {
  filters[name] = guardFilter(name, replacementFilters[name] ?? builtinFilter(name));
}
Object.assign(filters, internalFilters);
Object.freeze(filters);

const tests: Record<string, TemplateFunction> = Object.create(null);
for (const name of ALLOWED_TESTS) {
  const test = nunjucksEnvironment.tests[name];
  if (test === undefined) throw new Error(`nunjucks has no test "${name}"`);
  tests[name] = test;
}
Object.freeze(tests);

interface RenderEnvironment {
  opts: { autoescape: boolean; throwOnUndefined: boolean };
  getFilter(name: string): TemplateFunction;
  getTest(name: string): TemplateFunction;
}

function createEnvironment(autoescape: boolean): RenderEnvironment {
  return Object.freeze({
    opts: Object.freeze({ autoescape, throwOnUndefined: true }),
    getFilter(name: string): TemplateFunction {
      const filter = Object.hasOwn(filters, name) ? filters[name] : undefined;
      if (filter === undefined) throw new RenderFault('forbidden', `the filter "${name}" is not available`);
      return filter;
    },
    getTest(name: string): TemplateFunction {
      const test = Object.hasOwn(tests, name) ? tests[name] : undefined;
      if (test === undefined) throw new RenderFault('forbidden', `the test "${name}" is not available`);
      return test;
    },
  });
}

// Title and body are HTML-escaped (see sandbox.ts); the action URL is not HTML, it is validated
// as a URL instead.
const htmlEnvironment = createEnvironment(true);
const urlEnvironment = createEnvironment(false);

function createContext(env: RenderEnvironment, data: Record<string, unknown>): RenderContext {
  const variables: Record<string, unknown> = Object.assign(Object.create(null), data);
  return {
    env,
    lookup: (name) => (Object.hasOwn(variables, name) ? variables[name] : undefined),
    setVariable: (name, value) => {
      variables[name] = value;
    },
    addExport: () => {},
    getVariables: () => variables,
  };
}

type RootRenderFunction = (
  env: RenderEnvironment,
  context: RenderContext,
  frame: unknown,
  runtime: typeof guardedRuntime,
  callback: (error: unknown, output?: string) => void,
) => void;

interface CompiledTemplate {
  root: RootRenderFunction;
  outputLabels: Map<string, string>;
}

function makeNode(template: TemplateNode, kind: 'Symbol' | 'Literal' | 'NodeList', ...fields: unknown[]): TemplateNode {
  return new nodes[kind](template.lineno, template.colno, ...fields);
}

function internalFilterCall(at: TemplateNode, name: string, args: TemplateNode[]): TemplateNode {
  return new nodes.Filter(at.lineno, at.colno, makeNode(at, 'Symbol', name), makeNode(at, 'NodeList', args));
}

/**
 * Routes the operations that create strings through size-checked internal filters: `~` and `+`,
 * and static text (so that it counts against the output budget; as a SafeString it is not
 * escaped); marks captured text safe. Mutates and returns the tree, which must already have
 * passed the allow-list.
 */
function rewriteForGuards(node: TemplateNode): TemplateNode {
  const children = node.children;
  if (Array.isArray(children)) {
    node.children = children.map((child: TemplateNode) =>
      node.typename === 'Output' && child.typename === 'TemplateData'
        ? internalFilterCall(child, '__static', [makeNode(child, 'Literal', child.value)])
        : rewriteForGuards(child),
    );
  }
  // `body` of `{% set %}…{% endset %}` is not listed in Set's fields.
  const fieldNames = node.typename === 'Set' ? [...node.fields, 'body'] : node.fields;
  for (const field of fieldNames) {
    if (field === 'children') continue;
    const value = node[field];
    if (value instanceof nodes.Node) node[field] = rewriteForGuards(value);
    else if (Array.isArray(value)) node[field] = value.map((item) => (item instanceof nodes.Node ? rewriteForGuards(item) : item));
  }
  if (node.typename === 'Capture') return internalFilterCall(node, '__captured', [node]);
  if (node.typename === 'Concat') return internalFilterCall(node, '__concat', [node.left as TemplateNode, node.right as TemplateNode]);
  if (node.typename === 'Add') return internalFilterCall(node, '__add', [node.left as TemplateNode, node.right as TemplateNode]);
  return node;
}

/** Names what an output tag prints, for "… is undefined" messages. */
function describeExpression(node: TemplateNode): string | null {
  switch (node.typename) {
    case 'Symbol':
      return String(node.value);
    case 'LookupVal': {
      const target = describeExpression(node.target as TemplateNode);
      if (target === null) return null;
      const key = node.val as TemplateNode;
      if (key.typename === 'Symbol') return `${target}[${String(key.value)}]`;
      if (key.typename !== 'Literal') return `${target}[…]`;
      const value = key.value;
      return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
        ? `${target}.${value}`
        : `${target}[${JSON.stringify(value)}]`;
    }
    case 'Filter': {
      const args = (node.args as TemplateNode).children as TemplateNode[];
      const input = args[0] === undefined ? null : describeExpression(args[0]);
      return input === null ? null : `${input} | ${String((node.name as TemplateNode).value)}`;
    }
    default:
      return null;
  }
}

function collectOutputLabels(node: TemplateNode, labels: Map<string, string>): void {
  if (node.typename === 'Output') {
    const children = node.children as TemplateNode[];
    const label = children.length === 1 && children[0] !== undefined ? describeExpression(children[0]) : null;
    if (label !== null) labels.set(`${node.lineno}:${node.colno}`, label);
  }
  const fieldNames = node.typename === 'Set' ? [...node.fields, 'body'] : node.fields;
  for (const field of fieldNames) {
    const value = node[field];
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) if (item instanceof nodes.Node) collectOutputLabels(item, labels);
  }
}

function compile(source: string): CompiledTemplate | SourceProblem {
  const checked = parseAndCheck(source, limits.maxSourceBytes);
  if (!checked.ok) return checked.problem;
  const outputLabels = new Map<string, string>();
  collectOutputLabels(checked.root, outputLabels);
  try {
    // Nunjucks' transformer pass is skipped on purpose: it only rewrites async filters, async
    // loops and `super`, none of which pass the allow-list.
    const compiler = new nunjucksInternals.compiler.Compiler('template', true);
    compiler.compile(rewriteForGuards(checked.root));
    const properties = new Function(compiler.getCode())() as { root: RootRenderFunction };
    return { root: properties.root, outputLabels };
  } catch (error) {
    const message = error instanceof RangeError ? 'template is nested too deeply' : error instanceof Error ? error.message : String(error);
    return { kind: 'syntax', message };
  }
}

// Compiled templates by source. Bounded by entries and by total source length so that the
// cache stays a small part of the thread's heap.
const compiledCache = new Map<string, CompiledTemplate | SourceProblem>();
const MAX_CACHE_ENTRIES = 200;
const MAX_CACHE_CHARS = 1_000_000;
let cachedChars = 0;

function compileCached(source: string): CompiledTemplate | SourceProblem {
  const cached = compiledCache.get(source);
  if (cached !== undefined) {
    compiledCache.delete(source);
    compiledCache.set(source, cached);
    return cached;
  }
  const compiled = compile(source);
  compiledCache.set(source, compiled);
  cachedChars += source.length;
  for (const key of compiledCache.keys()) {
    if (compiledCache.size <= MAX_CACHE_ENTRIES && cachedChars <= MAX_CACHE_CHARS) break;
    compiledCache.delete(key);
    cachedChars -= key.length;
  }
  return compiled;
}

function isCompiled(value: CompiledTemplate | SourceProblem): value is CompiledTemplate {
  return 'root' in value;
}

function renderCompiled(template: CompiledTemplate, env: RenderEnvironment, data: Record<string, unknown>): string | SourceProblem {
  budget.outputChars = 0;
  budget.loopIterations = 0;
  budget.outputLabels = template.outputLabels;
  const frame = new runtime.Frame();
  frame.topLevel = true;
  let failure: unknown = null;
  let output: string | undefined;
  try {
    template.root(env, createContext(env, data), frame, guardedRuntime, (error, result) => {
      failure = error;
      output = result;
    });
  } catch (error) {
    failure = error;
  }
  if (failure !== null && failure !== undefined) return problemOf(failure);
  if (typeof output !== 'string') return { kind: 'runtime', message: 'the template produced no output' };
  // Length in UTF-16 units never exceeds the UTF-8 byte length, so this check is safe to make
  // before the string is flattened by Buffer.byteLength.
  if (output.length > limits.maxOutputBytes || Buffer.byteLength(output, 'utf8') > limits.maxOutputBytes) {
    return { kind: 'output-too-large', message: `the rendered text is larger than ${limits.maxOutputBytes} bytes` };
  }
  return output;
}

function problemOf(error: unknown): SourceProblem {
  if (error instanceof RenderFault) {
    const problem: SourceProblem = { kind: error.kind, message: error.message };
    if (error.line !== undefined) problem.line = error.line;
    if (error.column !== undefined) problem.column = error.column;
    return problem;
  }
  // Nunjucks wraps other errors in a TemplateError whose cause is the original.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof RangeError) {
    if (/string length/i.test(cause.message))
      return { kind: 'output-too-large', message: 'a text value built by the template is too long' };
    if (/call stack/i.test(cause.message)) return { kind: 'runtime', message: 'the template recursed too deeply' };
  }
  // Positions of other run-time errors are not reported: the compiled code only tracks them
  // for calls, which are not allowed, so they would point at the start of the template.
  return { kind: 'runtime', message: cause instanceof Error ? cause.message : String(cause) };
}

// Dangerous schemes (javascript:, data:, vbscript:, file:) are refused by allowing only http(s)
// and same-site paths; `//host` and `/\host` are protocol-relative URLs, not paths.
function checkActionUrl(rendered: string): string | null | SourceProblem {
  const url = rendered.trim();
  if (url === '') return null;
  const invalid = (message: string): SourceProblem => ({ kind: 'invalid-url', message });
  if (url.length > 2048) return invalid('the action URL is longer than 2048 characters');
  if (/[\u0000-\u0020\u007f-\u009f]/.test(url))
    return invalid('the action URL contains whitespace or control characters; encode data with the urlencode filter');
  if (url.startsWith('/')) {
    if (url.startsWith('//') || url.startsWith('/\\')) return invalid('a relative action URL must be a path starting with a single "/"');
    const base = 'https://relative.invalid';
    if (!URL.canParse(url, base) || new URL(url, base).origin !== base) return invalid('the action URL is not a valid path');
    return url;
  }
  const parsed = URL.parse(url);
  if (parsed === null) return invalid('the action URL is neither an absolute http(s) URL nor a path starting with "/"');
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return invalid(`the action URL scheme "${parsed.protocol}" is not allowed; use http(s) or a path starting with "/"`);
  }
  if (parsed.username !== '' || parsed.password !== '') return invalid('the action URL must not contain credentials');
  return parsed.href;
}

function parseData(json: string): Record<string, unknown> {
  // Null-prototype objects: nothing is inherited, so no path leads from data to Object.
  return JSON.parse(json, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.assign(Object.create(null), value) : value,
  ) as Record<string, unknown>;
}

function render(request: RenderRequest): RenderOutcome {
  Atomics.store(progress, 0, 0);
  const data = parseData(request.data);
  const rendered: Record<TemplateField, string | null> = { title: '', body: '', actionUrl: null };
  for (const [index, field] of FIELDS.entries()) {
    const source = request[field];
    if (source === null) continue;
    Atomics.store(progress, 0, index);
    const compiled = compileCached(source);
    const result = isCompiled(compiled)
      ? renderCompiled(compiled, field === 'actionUrl' ? urlEnvironment : htmlEnvironment, data)
      : compiled;
    const checked = field === 'actionUrl' && typeof result === 'string' ? checkActionUrl(result) : result;
    if (checked !== null && typeof checked === 'object') return { ok: false, error: { field, ...checked } satisfies TemplateError };
    rendered[field] = checked;
  }
  return { ok: true, content: { title: rendered.title ?? '', body: rendered.body ?? '', actionUrl: rendered.actionUrl } };
}

// Warm up once (lazy initialisation inside Nunjucks and V8 happens now), then freeze the
// built-in prototypes: a template has no way to assign to them today, and if one ever found a
// way, it could not leave traps for the next tenant's render in this thread.
render({ id: 0, title: '{{ a }}', body: '{% for x in b %}{{ x | upper ~ "" }}{% endfor %}', actionUrl: '/', data: '{"a":"x","b":["y"]}' });
compiledCache.clear();
cachedChars = 0;
for (const intrinsic of [Object, Function, Array, String, Number, Boolean, Symbol, Error, RegExp, Map, Set, Promise, JSON, Math, Reflect]) {
  Object.freeze(intrinsic);
  if ('prototype' in intrinsic) Object.freeze(intrinsic.prototype);
}

port.on('message', (request: RenderRequest) => {
  let message: ThreadMessage;
  try {
    message = { type: 'result', id: request.id, outcome: render(request) };
  } catch (error) {
    message = { type: 'failure', id: request.id, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(message);
});
port.postMessage({ type: 'ready' } satisfies ThreadMessage);
