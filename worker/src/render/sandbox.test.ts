import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RenderOutcome, TemplateErrorKind, TemplateSandbox, TemplateSources } from './sandbox.ts';
import { checkTemplate, createTemplateSandbox } from './sandbox.ts';

// Hostile payloads write this file if they ever execute. Each payload is first run through
// plain Nunjucks (the positive control) to prove it *does* execute there, so an absent marker
// after the sandboxed render means the sandbox stopped it, not that the payload was broken.
const markerDir = mkdtempSync(join(tmpdir(), 'pigeon-sandbox-'));
const marker = join(markerDir, 'pwned');
const js = `process.getBuiltinModule('fs').writeFileSync('${marker}', 'pwned')`;
// The same code with every non-alphanumeric character escaped, for payloads that must not
// contain Nunjucks delimiters or whitespace.
const jsEscaped = js.replace(/[^A-Za-z0-9]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const bt = '`';
const q = '\\"';

const NORMAL: TemplateSources = { title: 'Hi {{ name }}', body: '{% for i in items %}{{ i }}{% endfor %}', actionUrl: '/inbox/{{ id }}' };
const NORMAL_DATA = { name: 'Ada', items: [1, 2, 3], id: 7 };
const NORMAL_OUTCOME: RenderOutcome = { ok: true, content: { title: 'Hi Ada', body: '123', actionUrl: '/inbox/7' } };

let sandbox: TemplateSandbox;

beforeAll(() => {
  sandbox = createTemplateSandbox({ threads: 2, timeoutMs: 2000 });
});

afterAll(async () => {
  await sandbox.close();
  rmSync(markerDir, { recursive: true, force: true });
});

afterEach(() => {
  rmSync(marker, { force: true });
});

function body(template: string): TemplateSources {
  return { title: 'Notice', body: template };
}

async function expectError(sources: TemplateSources, data: unknown, on = sandbox) {
  const outcome = await on.render(sources, data);
  if (outcome.ok) throw new Error(`expected a template error, rendered ${JSON.stringify(outcome.content)}`);
  return outcome.error;
}

/**
 * Renders a hostile template next to a normal one and then another normal one: the hostile
 * render fails with one of `kinds`, the others succeed, nothing executed.
 */
async function expectContained(sources: TemplateSources, data: unknown, kinds: TemplateErrorKind[], on = sandbox) {
  const [hostile, concurrent] = await Promise.all([on.render(sources, data), on.render(NORMAL, NORMAL_DATA)]);
  expect(hostile.ok, JSON.stringify(hostile)).toBe(false);
  if (!hostile.ok) expect(kinds).toContain(hostile.error.kind);
  expect(concurrent).toEqual(NORMAL_OUTCOME);
  expect(await on.render(NORMAL, NORMAL_DATA)).toEqual(NORMAL_OUTCOME);
  expect(existsSync(marker)).toBe(false);
  return hostile.ok ? undefined : hostile.error;
}

describe('rendering', () => {
  it('renders data with autoescape, filters, loops and conditionals', async () => {
    const outcome = await sandbox.render(
      {
        title: '{{ user.name | title }} — {{ count }} new',
        body: [
          'Hello <b>{{ user.name }}</b>, tags: {{ tags | join(", ") | upper }}.',
          '{% for item in items %}',
          '  - {{ loop.index }}. {{ item.label | default("untitled") }}{{ " (expensive)" if item.price > 10 }}',
          '{% endfor %}',
          '{% set total = items | sum("price") %}',
          'Total {{ total | round(1) }}; {{ missing | default("n/a") }}; {{ "x" if flag else "y" }}',
          '{{ labels[status] }} {{ items | length }} {{ items | first | dictsort | length }} {{ (items | selectattr("label") | list | length) }}',
          '{% for key, value in prefs | dictsort %}{{ key }}={{ value }}{{ ", " if not loop.last }}{% endfor %}',
        ].join('\n'),
        actionUrl: 'https://example.com/orders?id={{ user.id | urlencode }}&ref={{ "a b&c" | urlencode }}',
      },
      {
        user: { id: 'u/1', name: 'ada <lovelace> & co' },
        count: 2,
        tags: ['a', 'b'],
        items: [{ label: 'Pen', price: 2.5 }, { price: 12.04 }],
        prefs: { b: 2, a: 1 },
        flag: false,
        status: 'shipped',
        labels: { shipped: 'Shipped!' },
      },
    );
    expect(outcome).toEqual({
      ok: true,
      content: {
        title: 'Ada &lt;lovelace&gt; &amp; Co — 2 new',
        body: [
          'Hello <b>ada &lt;lovelace&gt; &amp; co</b>, tags: A, B.',
          '  - 1. Pen',
          '  - 2. untitled (expensive)',
          'Total 14.5; n/a; y',
          'Shipped! 2 2 1',
          'a=1, b=2',
        ].join('\n'),
        actionUrl: 'https://example.com/orders?id=u%2F1&ref=a%20b%26c',
      },
    });
  });

  it('renders is-tests, switch, captures, filter blocks and raw blocks', async () => {
    const outcome = await sandbox.render(
      body(
        '{{ n is odd }} {{ n is divisibleby(3) }} {{ x is defined }} {{ none_value is none }} ' +
          '{% switch kind %}{% case "a" %}A{% default %}other{% endswitch %} ' +
          '{% set greeting %}hi {{ name }}{% endset %}{{ greeting | capitalize }} ' +
          '{% filter upper %}shout {{ name }}{% endfilter %} {% raw %}{{ not rendered }}{% endraw %} ' +
          '{{ "a" in letters }} {{ 7 // 2 }} {{ 2 ** 3 }} {{ "<" ~ name }} {{ name | escape }}',
      ),
      { n: 9, kind: 'b', name: '<i>', letters: ['a'], none_value: null },
    );
    expect(outcome).toEqual({
      ok: true,
      content: {
        title: 'Notice',
        // Captured text is escaped once (plain Nunjucks escapes it twice).
        body: 'true true false true other Hi &lt;i&gt; SHOUT &LT;I&GT; {{ not rendered }} true 3 8 &lt;&lt;i&gt; &lt;i&gt;',
        actionUrl: null,
      },
    });
  });

  it('removes the newline after a block tag and the indentation before it (trimBlocks, lstripBlocks)', async () => {
    const outcome = await sandbox.render(body('Hi\n  {% if true %}\nyes{% endif %}\nnext\n'), {});
    expect(outcome).toMatchObject({ ok: true, content: { body: 'Hi\nyesnext\n' } });
  });

  it('escapes data inserted into safe text by filters', async () => {
    const outcome = await sandbox.render(body('{{ x | escape | replace("a", y) }}|{{ "long text" | escape | truncate(4, true, y) }}'), {
      x: 'a<a',
      y: '<b>',
    });
    expect(outcome).toMatchObject({ ok: true, content: { body: '&lt;b&gt;&lt;&lt;b&gt;|long&lt;b&gt;' } });
  });

  it('groups by data values that look like inherited property names', async () => {
    const items = [{ k: 'constructor' }, { k: '__proto__' }, { k: 'constructor' }, { k: 'toString' }];
    const outcome = await sandbox.render(
      body('{% for name, group in items | groupby("k") | dictsort %}{{ name }}={{ group | length }};{% endfor %}'),
      { items },
    );
    expect(outcome).toMatchObject({ ok: true, content: { body: 'constructor=2;toString=1;__proto__=1;' } });
  });

  it('reports an undefined variable with its name and line', async () => {
    expect(await expectError(body('Hello\n  {{ user.name }}'), { user: {} })).toEqual({
      field: 'body',
      kind: 'undefined',
      message: '"user.name" is undefined or null',
      line: 2,
      column: 3,
    });
    expect(await expectError({ title: '{{ missing }}', body: '' }, {})).toMatchObject({
      field: 'title',
      kind: 'undefined',
      message: '"missing" is undefined or null',
      line: 1,
    });
  });

  it('reports syntax errors with line and column, from checkTemplate too', async () => {
    const sources = body('ok\n{% if x %}\n{{ a b }}');
    const expected = { field: 'body', kind: 'syntax', message: 'expected variable end', line: 3, column: 6 };
    expect(checkTemplate(sources)).toEqual(expected);
    expect(await expectError(sources, {})).toEqual(expected);
    expect(checkTemplate(body('{% if x %}never closed'))).toMatchObject({ kind: 'syntax' });
  });

  it('validates the action URL', async () => {
    for (const url of [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      ' javascript:alert(1)',
      'data:text/html,x',
      '//evil.example',
      '/\\evil.example',
      'https://user:pw@example.com/',
      'not a url',
      'ftp://example.com',
    ]) {
      expect(await expectError({ ...NORMAL, actionUrl: '{{ url }}' }, { ...NORMAL_DATA, url }), url).toMatchObject({
        field: 'actionUrl',
        kind: 'invalid-url',
      });
    }
    const render = async (actionUrl: string, data: object = {}) => sandbox.render({ title: 't', body: 'b', actionUrl }, data);
    expect(await render('/settings?a=1&b={{ v }}', { v: 'x&y' })).toMatchObject({
      ok: true,
      content: { actionUrl: '/settings?a=1&b=x&y' },
    });
    expect(await render('  https://EXAMPLE.com/a\n')).toMatchObject({ ok: true, content: { actionUrl: 'https://example.com/a' } });
    expect(await render('{% if false %}/x{% endif %}')).toMatchObject({ ok: true, content: { actionUrl: null } });
  });

  it('returns limits on source and data size as errors without using a thread', async () => {
    const big = 'x'.repeat(64 * 1024 + 1);
    expect(checkTemplate(body(big))).toMatchObject({ field: 'body', kind: 'source-too-large' });
    expect(await expectError(body(big), {})).toMatchObject({ field: 'body', kind: 'source-too-large' });
    expect(await expectError(body('x'), { blob: 'x'.repeat(1024 * 1024) })).toMatchObject({ field: 'data', kind: 'data-too-large' });
  });

  it('throws for caller mistakes, not for template problems', async () => {
    await expect(sandbox.render(body('x'), [1, 2])).rejects.toThrow(TypeError);
    await expect(sandbox.render(body('x'), { n: 1n })).rejects.toThrow(TypeError);
    await expect(sandbox.render({ title: 1, body: '' } as unknown as TemplateSources, {})).rejects.toThrow(TypeError);
  });

  it('queues concurrent renders across the pool', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sandbox.render({ title: '{{ i }}', body: '{{ i * 2 }}' }, { i })),
    );
    expect(outcomes.map((o) => (o.ok ? o.content.body : o.error.message))).toEqual(Array.from({ length: 50 }, (_, i) => String(i * 2)));
  });
});

describe('hostile templates', () => {
  // Payloads that run code in plain Nunjucks 3.2.4 (checked by the positive control).
  const executing: Array<[string, string, Record<string, unknown>]> = [
    ['range.constructor', `{{ range.constructor("${js}")() }}`, {}],
    ['cycler.constructor', `{{ cycler.constructor("${js}")() }}`, {}],
    ['joiner.constructor', `{{ joiner.constructor("${js}")() }}`, {}],
    ['"".constructor.constructor', `{{ "".constructor.constructor("${js}")() }}`, {}],
    ['data .constructor.constructor', `{{ x.constructor.constructor("${js}")() }}`, { x: {} }],
    ['set [].constructor.constructor', `{% set f = [].constructor.constructor %}{{ f("${js}")() }}`, {}],
    ['computed lookup', `{{ x["constr" ~ "uctor"]["constr" ~ "uctor"]("${js}")() }}`, { x: {} }],
    ['lookup key from data', `{{ x[k][k]("${js}")() }}`, { x: {}, k: 'constructor' }],
    ['lookup through a filter', `{{ (x | first).constructor.constructor("${js}")() }}`, { x: [{}] }],
    ['compiler injection through a symbol name', `{{ a"&&Function${bt}${jsEscaped}${bt}${bt}${bt}&&" }}`, { a: 1 }],
    ['compiler injection through an is-test name', `{{ x is "defined${q})&&Function(${q}${js}${q})()&&(${q}" }}`, { x: 1 }],
  ];

  it.each(executing)('%s: executes in plain Nunjucks (positive control)', (_name, template, data) => {
    const env = new nunjucks.Environment([], { autoescape: true });
    try {
      env.renderString(template, data);
    } catch {
      // Some payloads throw after running.
    }
    expect(existsSync(marker)).toBe(true);
  });

  it.each(executing)('%s: refused and not executed by the sandbox', async (_name, template, data) => {
    expect(checkTemplate(body(template))).toMatchObject({ field: 'body', kind: 'forbidden' });
    await expectContained(body(template), data, ['forbidden']);
  });

  // Refused before rendering (checkTemplate) and by the render thread.
  const refusedStatically: Array<[string, string]> = [
    ['call of a data value', '{{ foo() }}'],
    ['constructor by name', '{{ x.constructor }}'],
    ['constructor of a literal', '{% set f = [].constructor %}'],
    ['__proto__', '{{ x.__proto__ }}'],
    ['__proto__ as a string key', '{{ x["__proto__"] }}'],
    ['__proto__ in a dict literal', '{% set d = {"__proto__": x} %}{{ d.a }}'],
    ['prototype', '{{ x.prototype }}'],
    ['forbidden loop variable', '{% for constructor in x %}{% endfor %}'],
    ['regex literal', '{{ "abc" | replace(r/b/g, "x") }}'],
    ['safe filter', '{{ x | safe }}'],
    ['urlize filter', '{{ x | urlize }}'],
    ['dump filter', '{{ x | dump }}'],
    ['center filter with a huge width', '{{ "x" | center(1000000000) }}'],
    ['unknown filter', '{{ x | attr("constructor") }}'],
    ['filter block with a refused filter', '{% filter safe %}{{ x }}{% endfilter %}'],
    ['range call', '{{ range(0, 1e9) }}'],
    ['range loop', '{% for i in range(0, 100000000) %}x{% endfor %}'],
    ['cycler call', '{% set c = cycler("a", "b") %}{{ c.next() }}'],
    ['joiner call', '{% set j = joiner() %}{{ j() }}'],
    ['include', '{% include "secret.njk" %}'],
    ['extends', '{% extends "base.njk" %}'],
    ['import', '{% import "macros.njk" as m %}'],
    ['from import', '{% from "macros.njk" import m %}'],
    ['recursive macro', '{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}'],
    ['call block', '{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}'],
    ['block', '{% block content %}x{% endblock %}'],
    ['test with two arguments', '{{ x is divisibleby(a, (b)) }}'],
    ['unknown test', '{{ x is constructor }}'],
  ];

  it.each(refusedStatically)('%s', async (_name, template) => {
    expect(checkTemplate(body(template))).toMatchObject({ field: 'body', kind: 'forbidden', line: 1 });
    await expectContained(body(template), { x: {} }, ['forbidden']);
  });

  // Allowed by the static check (computed keys, plain names); stopped by the run-time guards.
  const refusedAtRuntime: Array<[string, string, Record<string, unknown>, TemplateErrorKind[]]> = [
    ['computed constructor lookup', '{{ x["constr" ~ "uctor"] }}', { x: {} }, ['forbidden']],
    ['computed key from data', '{% set c = x[k] %}{{ c[k] }}', { x: {}, k: 'constructor' }, ['forbidden']],
    ['computed __proto__ from data', '{{ x[k] }}', { x: {}, k: '__proto__' }, ['forbidden']],
    ['inherited method', '{{ x.toString }}', { x: {} }, ['undefined']],
    ['inherited method of a list', '{{ x.map }}', { x: [] }, ['undefined']],
    ['inherited method of a string', '{{ x.toUpperCase }}', { x: 'a' }, ['undefined']],
    ['join by attribute constructor', '{{ [x] | join(",", "constructor") }}', { x: {} }, ['forbidden']],
    ['selectattr by __proto__', '{{ [x] | selectattr("__proto__") | length }}', { x: {} }, ['forbidden']],
    ['globals do not exist', '{{ range }}', {}, ['undefined']],
    ['process is not reachable', '{{ process }}', {}, ['undefined']],
    ['object output', '{{ x }}', { x: { a: 1 } }, ['runtime']],
  ];

  it.each(refusedAtRuntime)('%s', async (_name, template, data, kinds) => {
    expect(checkTemplate(body(template))).toBeNull();
    await expectContained(body(template), data, kinds);
  });

  it('stops nested loops multiplying work at the iteration budget', async () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const error = await expectContained(
      body('{% for a in items %}{% for b in items %}{% for c in items %}xxxxxxxxxx{% endfor %}{% endfor %}{% endfor %}'),
      { items },
      ['loop-limit'],
    );
    expect(error?.message).toMatch(/10000 iterations/);
  });

  it('stops huge output', async () => {
    const data = { items: Array.from({ length: 50 }, () => 'y'.repeat(10_000)) };
    await expectContained(body('{% for i in items %}{% for j in items %}{{ j }}{% endfor %}{% endfor %}'), data, ['output-too-large']);
    await expectContained(body(`{% for i in items %}${'s'.repeat(60_000)}{% endfor %}`), { items: Array.from({ length: 100 }) }, [
      'output-too-large',
    ]);
  });

  it('stops strings that grow without being output', async () => {
    const items = Array.from({ length: 60 }, () => 0);
    await expectContained(body('{% set s = "xx" %}{% for i in items %}{% set s = s ~ s %}{% endfor %}{{ s | upper }}'), { items }, [
      'output-too-large',
    ]);
    await expectContained(body('{% set s = "xx" %}{% for i in items %}{% set s = s + s %}{% endfor %}{{ s | list | length }}'), { items }, [
      'output-too-large',
    ]);
    await expectContained(
      body('{% set s %}{% for i in items %}{% for j in items %}{{ big }}{% endfor %}{% endfor %}{% endset %}{{ s | upper }}'),
      { items, big: 'z'.repeat(50_000) },
      ['output-too-large'],
    );
    await expectContained(body('{{ big | replace("", big) }}'), { big: 'z'.repeat(10_000) }, ['output-too-large']);
    await expectContained(body('{{ [big, big, big, big, big] | join(big) }}'), { big: 'z'.repeat(300_000) }, ['output-too-large']);
  });

  it('refuses templates nested too deeply', async () => {
    const deep = `{{ ${'('.repeat(3000)}x${')'.repeat(3000)} }}`;
    expect(checkTemplate(body(deep))).toMatchObject({ field: 'body' });
    await expectContained(body(deep), { x: 1 }, ['syntax', 'forbidden']);
    const nested = `${'{% if x %}'.repeat(150)}y${'{% endif %}'.repeat(150)}`;
    expect(checkTemplate(body(nested))).toMatchObject({ kind: 'forbidden', message: 'template is nested too deeply' });
  });
});

describe('isolation limits', () => {
  let loose: TemplateSandbox;

  beforeAll(() => {
    // Budgets lifted so that only the thread's time and memory limits can stop a render.
    loose = createTemplateSandbox({ threads: 2, timeoutMs: 300, maxLoopIterations: 1e12 });
  });

  afterAll(async () => {
    await loose.close();
  });

  it('terminates a runaway render at the timeout and replaces the thread', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const started = performance.now();
    const error = await expectContained(
      { title: 'ok', body: '{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}' },
      { items },
      ['timeout'],
      loose,
    );
    expect(error).toMatchObject({ field: 'body', message: 'rendering took longer than 300 ms' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('reports a thread that runs out of memory as a memory error for that render only', async () => {
    const small = createTemplateSandbox({ threads: 2, timeoutMs: 5000, maxHeapMb: 16, maxLoopIterations: 1e12, maxOutputBytes: 1 << 28 });
    try {
      // Many separate 100 kB strings kept alive: the shape of growth that V8 reports to Node as
      // a worker out of memory (one huge allocation would abort the process, see render-thread.ts).
      const error = await expectContained(
        body('{% set acc = "" %}{% for i in items %}{% set acc = acc ~ (big | upper) %}{% endfor %}{{ acc | length }}'),
        { big: 'm'.repeat(100_000), items: Array.from({ length: 2000 }, () => 0) },
        ['memory'],
        small,
      );
      expect(error).toEqual({ field: 'body', kind: 'memory', message: 'rendering needed more than the 16 MB memory limit' });
    } finally {
      await small.close();
    }
  });

  it('keeps other in-flight renders unaffected when one thread is terminated', async () => {
    const slow = loose.render(body('{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}'), {
      items: Array.from({ length: 1000 }),
    });
    const normals = await Promise.all(Array.from({ length: 20 }, () => loose.render(NORMAL, NORMAL_DATA)));
    expect(normals).toEqual(Array.from({ length: 20 }, () => NORMAL_OUTCOME));
    expect(await slow).toMatchObject({ ok: false, error: { kind: 'timeout' } });
  });
});

describe('lifecycle', () => {
  it('rejects pending and later renders once closed', async () => {
    const own = createTemplateSandbox({ threads: 1 });
    expect(await own.render(NORMAL, NORMAL_DATA)).toEqual(NORMAL_OUTCOME);
    const pending = expect(own.render(NORMAL, NORMAL_DATA)).rejects.toThrow(/closed/);
    await own.close();
    await pending;
    await expect(own.render(NORMAL, NORMAL_DATA)).rejects.toThrow(/closed/);
    await own.close();
  });
});
