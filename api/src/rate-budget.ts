// Rate budgets: each API key, and each recipient's client tokens, may run a number of operations per
// minute (set per environment). An operation is one root field — so aliases (`a: send … b: send …`)
// and fragments cannot squeeze more work into one request — and a subscription costs one when it
// starts. Counters live in Redis (rate-limiter-flexible), shared by every API process.
//
// Large budgets are charged in slices: a process reserves 1 % of a budget from Redis at a time and
// counts it down locally, so one Redis script runs per hundreds of operations instead of per
// operation (that round trip was ≈ 10 % of the API's CPU per send: docs/benchmarks.md). Budgets
// under 200 per minute have slices of one operation: charged exactly, as before. What a slice
// costs in exactness: a process may hold up to one slice it never uses (others may be refused up
// to 1 % early per process), and an unused remainder lapses with its window.

import type { Logger } from '@pigeon/worker';
import { type DocumentNode, type GraphQLError, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Context } from './context.ts';
import { rateLimited } from './errors.ts';
import type { Principal } from './principal.ts';

const WINDOW_SECONDS = 60;
/** The share of a budget one process reserves at a time. */
const SLICE_SHARE = 0.01;

interface Reservation {
  remaining: number;
  /** When the Redis window the slice was taken from ends. */
  endsAt: number;
}
/** Reservations remembered at most (one per active key or recipient); the oldest go first. */
const MAX_RESERVATIONS = 10_000;

/** Root fields an operation runs (fragments at the root expanded; `__typename` is free). */
export function countRootFields(document: DocumentNode, operationName: string | null | undefined): number {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return 0;
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])),
  );
  const seen = new Set<string>();
  const count = (set: SelectionSetNode): number => {
    let n = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') n += 1;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        n += count(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        // Every spread counts (conservative); the guard only stops a cycle (which validation rejects anyway).
        if (fragment && !seen.has(name)) {
          seen.add(name);
          n += count(fragment);
          seen.delete(name);
        }
      }
    }
    return n;
  };
  return Math.max(1, count(operation.selectionSet));
}

function budgetOf(principal: Principal | null): { kind: 'apiKey' | 'clientToken'; key: string; points: number } | null {
  if (principal?.kind === 'apiKey') return { kind: 'apiKey', key: principal.apiKeyId, points: principal.opsPerMinute };
  if (principal?.kind === 'clientToken') {
    return { kind: 'clientToken', key: `${principal.environmentId}:${principal.recipientId}`, points: principal.opsPerMinute };
  }
  return null;
}

export function rateBudgetPlugin({ redis, prefix, log }: { redis: Redis; prefix: string; log: Logger }): Plugin<Context> {
  // One limiter per (kind, budget size): budgets are per environment, so a handful of sizes in use.
  const limiters = new Map<string, RateLimiterRedis>();
  const limiter = (kind: string, points: number) => {
    const id = `${kind}:${points}`;
    let l = limiters.get(id);
    if (!l) {
      l = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:budget:${kind}`, points, duration: WINDOW_SECONDS });
      limiters.set(id, l);
    }
    return l;
  };

  const reservations = new Map<string, Reservation>();

  /** The reservation being made per budget: concurrent requests wait for one instead of each taking a slice. */
  const reserving = new Map<string, Promise<boolean>>();

  const takeReserved = (id: string, cost: number) => {
    const held = reservations.get(id);
    if (!held || held.endsAt <= Date.now() || held.remaining < cost) return false;
    held.remaining -= cost;
    return true;
  };

  /** Reserves a slice from Redis; false when less than a slice is left in the window. */
  const reserve = async (store: RateLimiterRedis, key: string, id: string, slice: number) => {
    try {
      const taken = await store.consume(key, slice);
      const endsAt = Date.now() + taken.msBeforeNext;
      const current = reservations.get(id);
      // What is left of a slice from the window still running carries over; a slice of a window
      // that has ended lapses.
      const carried = current && current.endsAt > Date.now() ? current.remaining : 0;
      reservations.delete(id);
      reservations.set(id, { remaining: carried + slice, endsAt });
      if (reservations.size > MAX_RESERVATIONS) {
        const oldest = reservations.keys().next().value;
        if (oldest !== undefined) reservations.delete(oldest);
      }
      return true;
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      // The window has less than a slice left: give the slice back.
      await store.reward(key, slice);
      return false;
    }
  };

  /** Takes `cost` from this process's slice of the budget, reserving a new slice when it runs out. */
  const consume = async (budget: { kind: string; key: string; points: number }, cost: number) => {
    const store = limiter(budget.kind, budget.points);
    const slice = Math.floor(budget.points * SLICE_SHARE);
    if (slice <= cost) {
      await store.consume(budget.key, cost);
      return;
    }
    const id = `${budget.kind}:${budget.points}:${budget.key}`;
    for (;;) {
      if (takeReserved(id, cost)) return;
      let pending = reserving.get(id);
      if (!pending) {
        pending = reserve(store, budget.key, id, slice).finally(() => reserving.delete(id));
        reserving.set(id, pending);
      }
      // The last operations of a window are charged one by one, exactly.
      if (!(await pending)) {
        await store.consume(budget.key, cost);
        return;
      }
    }
  };

  const charge = async (contextValue: unknown, document: DocumentNode, operationName: string | null | undefined) => {
    const budget = budgetOf((contextValue as Context).principal);
    if (!budget) return null;
    const cost = countRootFields(document, operationName);
    try {
      await consume(budget, cost);
      return null;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        const retryAfter = Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
        const what = budget.kind === 'apiKey' ? 'this API key' : "this recipient's client tokens";
        return rateLimited(retryAfter, `The rate budget of ${what} (${budget.points} operations per minute) is used up.`);
      }
      // Redis unreachable: serve rather than refuse everyone; limits resume with Redis.
      log.warn('rate budget check failed; allowing the operation', { error: outcome });
      return null;
    }
  };

  // Queries and mutations (execute) and subscription starts (subscribe) are charged alike.
  const guard = async ({
    args,
    setResultAndStopExecution,
  }: {
    args: { contextValue: unknown; document: DocumentNode; operationName?: string | null };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const refused = await charge(args.contextValue, args.document, args.operationName);
    if (refused) setResultAndStopExecution({ errors: [refused] });
  };
  return { onExecute: guard, onSubscribe: guard };
}
