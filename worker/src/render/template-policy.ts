// The static half of the template sandbox: parse a tenant's template with Nunjucks' own parser
// and accept it only if every node of the tree is on an allow-list. Safe to run on any thread:
// it parses, it never compiles or renders.
//
// Why an allow-list of the *tree* and not of the source text: Nunjucks compiles templates to
// JavaScript by string concatenation, and in 3.2.4 some node values are spliced into that code
// without escaping. Both of these executed code in a trial, without any lookup or call in the
// template: a symbol containing a quote (`{{ a"&&Function`...```&&" }}`: the lexer accepts any
// non-delimiter character in a name) and an `is` test named by a string literal
// (`{{ x is "defined\")&&...&&(\"" }}`). So names must be plain identifiers and test names
// symbols, on top of the obvious rules (no calls, no includes, no `constructor`).

import nunjucks from 'nunjucks';
import type { TemplateError, TemplateField } from './sandbox.ts';

/** A node of Nunjucks' parse tree (nunjucks/src/nodes.js); fields vary by `typename`. */
export interface TemplateNode {
  readonly typename: string;
  readonly fields: readonly string[];
  lineno: number;
  colno: number;
  [field: string]: unknown;
}

interface NodeClass {
  new (lineno: number, colno: number, ...fields: unknown[]): TemplateNode;
}

type TemplateFunction = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The parts of Nunjucks 3.2.4 the sandbox uses that its type declarations leave out. They are
 * internal API: the version is pinned exactly in worker/package.json, and the sandbox tests
 * exercise every one of them.
 */
export interface NunjucksInternals {
  parser: { parse(source: string, extensions: unknown[], opts: { trimBlocks: boolean; lstripBlocks: boolean }): TemplateNode };
  nodes: { Node: NodeClass; NodeList: NodeClass; Symbol: NodeClass; Literal: NodeClass; Filter: NodeClass };
  compiler: { Compiler: new (templateName: string, throwOnUndefined: boolean) => { compile(root: TemplateNode): void; getCode(): string } };
  lib: { escape(text: string): string; TemplateError: new (message: string, lineno?: number, colno?: number) => Error };
  runtime: {
    SafeString: new (text: string) => { val: string; length: number };
    Frame: new () => { topLevel: boolean };
    handleError(error: unknown, lineno: number, colno: number): unknown;
    fromIterator(value: unknown): unknown;
    makeKeywordArgs(value: object): object;
    inOperator(key: unknown, value: unknown): boolean;
    isArray(value: unknown): boolean;
    keys(value: object): string[];
  };
  Environment: new (loaders: unknown[]) => { filters: Record<string, TemplateFunction>; tests: Record<string, TemplateFunction> };
}

export const nunjucksInternals = nunjucks as unknown as NunjucksInternals;

/**
 * Filters a template may use. Left out, with the reason:
 * - `safe`: would let tenant *data* bypass HTML escaping; the template author cannot know that
 *   data is markup-free.
 * - `urlize`: emits markup, useless (escaped) under autoescape.
 * - `center`, `indent`, `batch`, `slice`: loop or pad to a size taken from an argument
 *   (`"x"|center(1e9)`), so one expression can cost unbounded time or memory.
 * - `dump`: JSON.stringify builds one flat string whose size the guards cannot bound up front.
 * - `random`: output must be deterministic (retries, previews).
 * `join`, `sum`, `groupby`, `selectattr`, `rejectattr` read attributes by name; the render
 * thread replaces them with versions that read own properties only, and every filter's arguments
 * and result are size-checked there.
 */
export const ALLOWED_FILTERS: ReadonlySet<string> = new Set([
  'abs',
  'capitalize',
  'd',
  'default',
  'dictsort',
  'e',
  'escape',
  'first',
  'float',
  'forceescape',
  'groupby',
  'int',
  'join',
  'last',
  'length',
  'list',
  'lower',
  'nl2br',
  'reject',
  'rejectattr',
  'replace',
  'reverse',
  'round',
  'select',
  'selectattr',
  'sort',
  'string',
  'striptags',
  'sum',
  'title',
  'trim',
  'truncate',
  'upper',
  'urlencode',
  'wordcount',
]);

/** `is` tests (all of Nunjucks' built-ins: each returns a boolean and reaches no code). */
export const ALLOWED_TESTS: ReadonlySet<string> = new Set([
  'callable',
  'defined',
  'divisibleby',
  'eq',
  'equalto',
  'escaped',
  'even',
  'falsy',
  'ge',
  'greaterthan',
  'gt',
  'iterable',
  'le',
  'lessthan',
  'lower',
  'lt',
  'mapping',
  'ne',
  'null',
  'number',
  'odd',
  'sameas',
  'string',
  'truthy',
  'undefined',
  'upper',
]);

// Property names that lead from a value to its constructor and from there to `Function`. Names
// starting with `__` are refused as well (`__proto__`, `__defineGetter__`, Nunjucks'
// `__keywords`, the render thread's internal filters).
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['constructor', 'prototype', 'caller', 'callee', 'arguments']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a property or variable name may be read by a template (also checked at run time). */
export function isSafeKey(key: string): boolean {
  return !FORBIDDEN_NAMES.has(key) && !key.startsWith('__');
}

const COMPARE_OPERATORS: ReadonlySet<string> = new Set(['==', '===', '!=', '!==', '<', '>', '<=', '>=']);

// Deeper trees are refused so that compiling (recursive, in the render thread) cannot overflow
// the stack; real notification templates nest a handful of levels.
const MAX_NESTING = 100;

const REFUSED_TAGS: Readonly<Record<string, string>> = {
  FunCall: 'calling functions is not allowed (filters such as `value | upper` are)',
  Include: '{% include %} is not available: a template must be self-contained',
  Extends: '{% extends %} is not available: a template must be self-contained',
  Import: '{% import %} is not available: a template must be self-contained',
  FromImport: '{% from %} is not available: a template must be self-contained',
  Macro: 'macros are not allowed',
  Caller: '{% call %} is not allowed',
  Block: '{% block %} is not available (there is no template inheritance)',
  Super: 'super() is not available (there is no template inheritance)',
  AsyncEach: 'asynchronous tags are not available',
  AsyncAll: 'asynchronous tags are not available',
  IfAsync: 'asynchronous tags are not available',
  CallExtension: 'unknown tag',
  CallExtensionAsync: 'unknown tag',
};

class PolicyViolation extends Error {
  readonly node: TemplateNode | null;
  constructor(message: string, node: TemplateNode | null) {
    super(message);
    this.node = node;
  }
}

/** Problem found while parsing or checking; the caller adds the field. */
export type SourceProblem = Omit<TemplateError, 'field'>;

export type CheckedSource = { ok: true; root: TemplateNode } | { ok: false; problem: SourceProblem };

export const PARSE_OPTIONS = { trimBlocks: true, lstripBlocks: true };

/**
 * Parses `source` and checks its tree against the allow-list. Never throws for anything the
 * template contains; returns the root only if it may be compiled.
 */
export function parseAndCheck(source: string, maxSourceBytes: number): CheckedSource {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > maxSourceBytes) {
    return { ok: false, problem: { kind: 'source-too-large', message: `template is ${bytes} bytes; the limit is ${maxSourceBytes}` } };
  }
  let root: TemplateNode;
  try {
    root = nunjucksInternals.parser.parse(source, [], PARSE_OPTIONS);
  } catch (error) {
    return { ok: false, problem: syntaxProblem(error) };
  }
  try {
    checkNode(root, 0);
  } catch (error) {
    if (error instanceof PolicyViolation) {
      return { ok: false, problem: { kind: 'forbidden', message: error.message, ...position(error.node) } };
    }
    if (error instanceof RangeError) {
      return { ok: false, problem: { kind: 'syntax', message: 'template is nested too deeply' } };
    }
    throw error;
  }
  return { ok: true, root };
}

export function checkSource(field: TemplateField, source: string, maxSourceBytes: number): TemplateError | null {
  const checked = parseAndCheck(source, maxSourceBytes);
  return checked.ok ? null : { field, ...checked.problem };
}

function syntaxProblem(error: unknown): SourceProblem {
  if (error instanceof RangeError) return { kind: 'syntax', message: 'template is nested too deeply' };
  const message = error instanceof Error ? error.message : String(error);
  const withPosition = error as { lineno?: unknown; colno?: unknown };
  const problem: SourceProblem = { kind: 'syntax', message };
  if (typeof withPosition.lineno === 'number') problem.line = withPosition.lineno;
  if (typeof withPosition.colno === 'number') problem.column = withPosition.colno;
  return problem;
}

function position(node: TemplateNode | null): { line?: number; column?: number } {
  // Parse-tree positions are 0-based; people count from 1.
  if (node === null || typeof node.lineno !== 'number' || typeof node.colno !== 'number') return {};
  return { line: node.lineno + 1, column: node.colno + 1 };
}

const { nodes } = nunjucksInternals;

function asNode(value: unknown, parent: TemplateNode): TemplateNode {
  if (!(value instanceof nodes.Node)) throw new PolicyViolation('unexpected template structure', parent);
  return value;
}

function childrenOf(node: TemplateNode): TemplateNode[] {
  const children = node.children;
  if (!Array.isArray(children)) throw new PolicyViolation('unexpected template structure', node);
  return children.map((child) => asNode(child, node));
}

function checkName(node: TemplateNode): void {
  const name = node.value;
  if (node.typename !== 'Symbol' || typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new PolicyViolation('names must be plain identifiers (letters, digits, underscore)', node);
  }
  if (!isSafeKey(name)) throw new PolicyViolation(`the name "${name}" is not allowed`, node);
}

function checkNode(node: TemplateNode, depth: number): void {
  if (depth > MAX_NESTING) throw new PolicyViolation('template is nested too deeply', node);
  const next = depth + 1;
  const walk = (value: unknown): void => checkNode(asNode(value, node), next);
  const walkOptional = (value: unknown): void => {
    if (value !== null && value !== undefined) walk(value);
  };
  switch (node.typename) {
    case 'Root':
    case 'NodeList':
    case 'Output':
    case 'Group':
    case 'Array':
      for (const child of childrenOf(node)) checkNode(child, next);
      return;
    case 'TemplateData':
      if (typeof node.value !== 'string') throw new PolicyViolation('unexpected template structure', node);
      return;
    case 'Literal':
      checkLiteral(node);
      return;
    case 'Symbol':
      checkName(node);
      return;
    case 'Dict':
      checkPairs(node, next);
      return;
    case 'LookupVal': {
      walk(node.target);
      const key = asNode(node.val, node);
      if (key.typename === 'Literal') {
        const value = key.value;
        if (typeof value === 'string') {
          if (!isSafeKey(value)) throw new PolicyViolation(`access to "${value}" is not allowed`, key);
        } else if (typeof value !== 'number' || !Number.isInteger(value)) {
          throw new PolicyViolation('a lookup key must be a string or an integer', key);
        }
      } else {
        // A computed key (`x[key]`, `x["constr" ~ "uctor"]`) is allowed; the render thread's
        // member lookup applies the same rules to its value at run time.
        checkNode(key, next);
      }
      return;
    }
    case 'If':
    case 'InlineIf':
      walk(node.cond);
      walk(node.body);
      walkOptional(node.else_);
      return;
    case 'For': {
      walk(node.arr);
      const name = asNode(node.name, node);
      if (name.typename === 'Array') for (const part of childrenOf(name)) checkName(part);
      else checkName(name);
      walk(node.body);
      walkOptional(node.else_);
      return;
    }
    case 'Set': {
      const targets = node.targets;
      if (!Array.isArray(targets) || targets.length === 0) throw new PolicyViolation('unexpected template structure', node);
      for (const target of targets) checkName(asNode(target, node));
      if (node.value !== null && node.value !== undefined) walk(node.value);
      else walk(node.body);
      return;
    }
    case 'Capture':
      walk(node.body);
      return;
    case 'Switch': {
      walk(node.expr);
      const cases = node.cases;
      if (!Array.isArray(cases)) throw new PolicyViolation('unexpected template structure', node);
      for (const item of cases) {
        const caseNode = asNode(item, node);
        if (caseNode.typename !== 'Case') throw new PolicyViolation('unexpected template structure', caseNode);
        checkNode(asNode(caseNode.cond, caseNode), next + 1);
        checkNode(asNode(caseNode.body, caseNode), next + 1);
      }
      walkOptional(node.default);
      return;
    }
    case 'Filter':
      checkFilter(node, next);
      return;
    case 'Is':
      walk(node.left);
      checkTest(asNode(node.right, node), next);
      return;
    case 'Compare': {
      walk(node.expr);
      const ops = node.ops;
      if (!Array.isArray(ops)) throw new PolicyViolation('unexpected template structure', node);
      for (const item of ops) {
        const op = asNode(item, node);
        if (op.typename !== 'CompareOperand' || typeof op.type !== 'string' || !COMPARE_OPERATORS.has(op.type)) {
          throw new PolicyViolation('unexpected comparison', op);
        }
        checkNode(asNode(op.expr, op), next + 1);
      }
      return;
    }
    case 'In':
    case 'Or':
    case 'And':
    case 'Add':
    case 'Concat':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'FloorDiv':
    case 'Mod':
    case 'Pow':
      walk(node.left);
      walk(node.right);
      return;
    case 'Not':
    case 'Neg':
    case 'Pos':
      walk(node.target);
      return;
    default:
      throw new PolicyViolation(REFUSED_TAGS[node.typename] ?? `"${node.typename}" is not allowed in templates`, node);
  }
}

function checkLiteral(node: TemplateNode): void {
  const value = node.value;
  // Regular expression literals (`r/…/`) are refused: they would make `replace` call functions
  // and allow catastrophic backtracking.
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  throw new PolicyViolation('only string, number, boolean and none literals are allowed', node);
}

function checkPairs(node: TemplateNode, depth: number): void {
  for (const pair of childrenOf(node)) {
    if (pair.typename !== 'Pair') throw new PolicyViolation('unexpected template structure', pair);
    const key = asNode(pair.key, pair);
    if (key.typename === 'Symbol') checkName(key);
    else if (key.typename === 'Literal' && typeof key.value === 'string') {
      // `{"__proto__": x}` compiles to an object literal that sets the prototype.
      if (!isSafeKey(key.value)) throw new PolicyViolation(`the key "${key.value}" is not allowed`, key);
    } else throw new PolicyViolation('dictionary keys must be names or strings', key);
    checkNode(asNode(pair.value, pair), depth + 1);
  }
}

function checkFilter(node: TemplateNode, depth: number): void {
  const name = asNode(node.name, node);
  const filterName = name.value;
  if (name.typename !== 'Symbol' || typeof filterName !== 'string' || !ALLOWED_FILTERS.has(filterName)) {
    throw new PolicyViolation(`the filter "${String(filterName)}" is not available`, name);
  }
  const args = childrenOf(asNode(node.args, node));
  args.forEach((arg, index) => {
    if (arg.typename === 'KeywordArgs') {
      // Keyword arguments are compiled as the last argument only.
      if (index !== args.length - 1) throw new PolicyViolation('unexpected template structure', arg);
      checkPairs(arg, depth + 1);
    } else checkNode(arg, depth + 1);
  });
}

function checkTest(right: TemplateNode, depth: number): void {
  // The compiler splices the test name into code unescaped (see the top of this file), and
  // compiles a test's argument list without commas, so `is` takes a known name and at most one
  // argument.
  if (right.typename === 'Literal' && right.value === null) return; // `is none` → the `null` test
  let nameNode = right;
  if (right.typename === 'FunCall') {
    nameNode = asNode(right.name, right);
    const args = childrenOf(asNode(right.args, right));
    if (args.length > 1 || args.some((arg) => arg.typename === 'KeywordArgs')) {
      throw new PolicyViolation('a test takes at most one argument', right);
    }
    for (const arg of args) checkNode(arg, depth + 1);
  }
  const testName = nameNode.value;
  if (nameNode.typename !== 'Symbol' || typeof testName !== 'string' || !ALLOWED_TESTS.has(testName)) {
    throw new PolicyViolation(`unknown test after "is"`, nameNode);
  }
}
