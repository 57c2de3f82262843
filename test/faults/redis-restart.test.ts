// Restart Redis during load. Redis keeps nothing on disk: when it comes back, every queue, job,
// lock, rate counter and pub/sub subscription is gone. PostgreSQL is the ledger, so nothing that
// was accepted may be lost — the reconciler re-enqueues ACCEPTED notifications and due webhook
// deliveries — and live subscribers continue from their cursors with no gap. No API or worker
// process is restarted by hand.
//
// Short (CI): 15 s of load, Redis down once for 2 s. PIGEON_FAULTS_LONG=1: 3 minutes, 8 restarts.
import { expect, it } from 'vitest';
import { invariantViolations, printReport, processingLatency, settleAndCount, startScenario } from './load.ts';
import { secondsSince, withPlatform } from './platform.ts';
import { sleep, sleepUntil } from './services.ts';

const LONG = process.env.PIGEON_FAULTS_LONG === '1';
const PLAN = LONG
  ? { loadMs: 180_000, restarts: 8, downMs: 3_000, rate: 60, settleMs: 180_000 }
  : { loadMs: 15_000, restarts: 1, downMs: 2_000, rate: 60, settleMs: 60_000 };

it(
  `nothing accepted is lost and subscribers resume from their cursors when Redis restarts empty (${PLAN.restarts} restarts)`,
  async () => {
    await withPlatform({}, async (platform, defer) => {
      const [api1, api2, worker1, worker2] = await Promise.all([
        platform.spawnApi('api #1'),
        platform.spawnApi('api #2'),
        platform.spawnWorker('worker #1'),
        platform.spawnWorker('worker #2'),
      ]);
      const apis = [api1, api2];
      const workers = [worker1, worker2];
      const scenario = await startScenario(
        platform,
        { bases: () => apis.map((a) => a.base), recipientPrefix: 'redis-restart', recipientCount: 8, ratePerSecond: PLAN.rate },
        defer,
      );
      const { ledger, load } = scenario;
      const actions: string[] = [];
      const t0 = load.startedAt;
      const outages: { from: number; to: number }[] = [];
      for (let k = 0; k < PLAN.restarts; k++) {
        const at = t0 + ((k + 0.4) * PLAN.loadMs) / PLAN.restarts;
        await sleepUntil(at);
        const from = Date.now();
        await platform.redis.kill();
        await sleep(PLAN.downMs);
        await platform.redis.start();
        const to = Date.now();
        outages.push({ from, to });
        actions.push(`kill -9 redis-server at ${secondsSince(t0, from)}, started empty on its port ${secondsSince(from, to)} later`);
      }
      await sleepUntil(t0 + PLAN.loadMs);
      await load.stop();
      actions.unshift(
        `${(PLAN.loadMs / 1000).toFixed(0)} s of load at ${PLAN.rate} sends/s through 2 API processes, 2 workers, ` +
          `8 live followers, one webhook endpoint; ${PLAN.restarts} Redis restart(s), ${PLAN.downMs} ms down each`,
      );

      const counts = await settleAndCount(scenario, PLAN.settleMs, { progressEveryMs: LONG ? 15_000 : 0 });
      const during = ledger.attempts().filter((a) => outages.some((o) => a.startedAt >= o.from && a.startedAt < o.to));
      const reconciled = workers.reduce((s, w) => s + w.reconciled.notifications, 0);
      const reconciledHooks = workers.reduce((s, w) => s + w.reconciled.webhooks, 0);
      printReport(`restart Redis (empty) during load${LONG ? ' (long)' : ''}`, actions, counts, [
        `sends started while Redis was down: ${during.length}, answered with success ${during.filter((a) => a.outcome === 'ok').length}, ` +
          `with an error ${during.filter((a) => a.outcome === 'error').length}`,
        `reconciler passes re-enqueued ${reconciled} ACCEPTED notifications and ${reconciledHooks} due webhook deliveries (rows summed over passes)`,
        await processingLatency(platform),
      ]);

      expect(invariantViolations(counts)).toEqual([]);
      // Recovery needed no hand: the same processes, still running.
      for (const s of platform.services) {
        expect(s.starts, s.name).toBe(1);
        expect(s.running(), s.name).toBe(true);
      }
      expect(reconciled + reconciledHooks, 'the reconciler re-enqueued what Redis lost').toBeGreaterThan(0);
    });
  },
  LONG ? 900_000 : 150_000,
);
