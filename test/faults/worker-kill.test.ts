// kill -9 the worker processes again and again while sends keep coming. PostgreSQL is the ledger:
// every acknowledged notification must end DELIVERED or FAILED (with a reason), every webhook the
// notifications' events call for must reach the receiver at least once (a repeat carries the same
// webhook-id and body), and no inbox sequence may have a hole — in the database or in what the
// live followers received.
//
// Short (CI): 15 s of load at 60 sends/s, 3 kills. PIGEON_FAULTS_LONG=1: 3 minutes, 24 kills.
import { expect, it } from 'vitest';
import { invariantViolations, printReport, processingLatency, settleAndCount, startScenario } from './load.ts';
import { secondsSince, withPlatform } from './platform.ts';
import { sleep, sleepUntil } from './services.ts';

const LONG = process.env.PIGEON_FAULTS_LONG === '1';
const PLAN = LONG ? { loadMs: 180_000, kills: 24, rate: 60, settleMs: 900_000 } : { loadMs: 15_000, kills: 3, rate: 60, settleMs: 100_000 };
/** How long a killed worker stays down before its supervisor would have restarted it. */
const DOWN_MS = 500;

it(
  `every accepted notification is processed, every webhook delivered and no inbox sequence has a hole while workers are SIGKILLed (${PLAN.kills} kills)`,
  async () => {
    await withPlatform({}, async (platform, defer) => {
      const [api, ...workers] = await Promise.all([
        platform.spawnApi('api'),
        platform.spawnWorker('worker #1'),
        platform.spawnWorker('worker #2'),
      ]);
      if (!api) throw new Error('no API');
      const scenario = await startScenario(
        platform,
        { bases: () => [api.base], recipientPrefix: 'worker-kill', recipientCount: 8, ratePerSecond: PLAN.rate },
        defer,
      );
      const { load } = scenario;
      const actions: string[] = [];
      const t0 = load.startedAt;
      // A supervisor restarts a killed worker at once; the kill schedule does not wait for it
      // (only a worker that is still starting is not killed again before it is up).
      const restarts = new Map<string, Promise<void>>();
      for (let k = 0; k < PLAN.kills; k++) {
        const at = t0 + ((k + 0.5) * PLAN.loadMs) / PLAN.kills + (Math.random() - 0.5) * 1_000;
        await sleepUntil(at);
        const worker = workers[k % workers.length] ?? workers[0];
        if (!worker) throw new Error('no worker');
        await restarts.get(worker.name);
        const killedAt = Date.now();
        await worker.kill('SIGKILL');
        const index = actions.push(`kill -9 ${worker.name} at ${secondsSince(t0, killedAt)}`) - 1;
        restarts.set(
          worker.name,
          sleep(DOWN_MS)
            .then(() => worker.start())
            .then(() => {
              actions[index] += `, restarted after ${DOWN_MS} ms (ready ${secondsSince(killedAt)} after the kill)`;
            }),
        );
      }
      await sleepUntil(t0 + PLAN.loadMs);
      await load.stop();
      await Promise.all(restarts.values());
      actions.unshift(
        `${(PLAN.loadMs / 1000).toFixed(0)} s of load at ${PLAN.rate} sends/s (8 senders, 8 recipients with live followers, one webhook endpoint) ` +
          `through 1 API process, 2 worker processes; ${PLAN.kills} SIGKILLs`,
      );

      const counts = await settleAndCount(scenario, PLAN.settleMs, { progressEveryMs: LONG ? 15_000 : 0 });
      const reconciled = workers.reduce((s, w) => s + w.reconciled.notifications, 0);
      const reconciledHooks = workers.reduce((s, w) => s + w.reconciled.webhooks, 0);
      printReport(`kill -9 the worker during steady load${LONG ? ' (long)' : ''}`, actions, counts, [
        await processingLatency(platform),
        `reconciler passes re-enqueued ${reconciled} ACCEPTED notifications and ${reconciledHooks} due webhook deliveries (rows summed over passes)`,
      ]);

      expect(invariantViolations(counts)).toEqual([]);
      expect(counts.sends.errorsAnswered + counts.sends.noAnswer + counts.sends.refused, 'the API was never touched').toBe(0);
      expect(counts.notifications.failed).toBeGreaterThan(0);
    });
  },
  LONG ? 1_500_000 : 180_000,
);
