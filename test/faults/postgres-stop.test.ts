// Stop PostgreSQL during load. While it is down, `send` must answer with an error — never with a
// success it could not have stored. When it is back (same data directory, crash recovery after an
// immediate stop), the same API and worker processes serve again without any manual step, and
// everything acknowledged before, during or after the outage ends DELIVERED or FAILED; live
// subscribers continue with no gap.
//
// Short (CI): 16 s of load, PostgreSQL down once for 5 s (immediate stop: no checkpoint, WAL
// replay at start). PIGEON_FAULTS_LONG=1: 3 minutes, 6 outages alternating immediate and fast stops.
import { expect, it } from 'vitest';
import { invariantViolations, printReport, processingLatency, settleAndCount, startScenario } from './load.ts';
import { secondsSince, withPlatform } from './platform.ts';
import { sleep, sleepUntil } from './services.ts';

const LONG = process.env.PIGEON_FAULTS_LONG === '1';
const PLAN = LONG
  ? { loadMs: 180_000, outages: 6, downMs: 5_000, rate: 60, settleMs: 180_000 }
  : { loadMs: 16_000, outages: 1, downMs: 5_000, rate: 60, settleMs: 90_000 };

it(
  `send answers only errors while PostgreSQL is down, and service resumes by itself when it returns (${PLAN.outages} outage(s))`,
  async () => {
    await withPlatform({}, async (platform, defer) => {
      const [api, worker] = await Promise.all([platform.spawnApi('api'), platform.spawnWorker('worker')]);
      const scenario = await startScenario(
        platform,
        { bases: () => [api.base], recipientPrefix: 'pg-stop', recipientCount: 8, ratePerSecond: PLAN.rate },
        defer,
      );
      const { ledger, load } = scenario;
      const actions: string[] = [];
      const t0 = load.startedAt;
      /** From the moment the postmaster has exited to the moment the restart begins. */
      const down: { from: number; to: number; back: number; mode: 'immediate' | 'fast' }[] = [];
      for (let k = 0; k < PLAN.outages; k++) {
        const at = t0 + ((k + 0.25) * PLAN.loadMs) / PLAN.outages;
        await sleepUntil(at);
        const mode = k % 2 === 0 ? 'immediate' : 'fast';
        const stopping = Date.now();
        await platform.postgres.stop(mode);
        const from = Date.now();
        await sleep(PLAN.downMs);
        const to = Date.now();
        await platform.postgres.start();
        const back = Date.now();
        down.push({ from, to, back, mode });
        actions.push(
          `stop PostgreSQL (${mode}) at ${secondsSince(t0, stopping)} (down after ${secondsSince(stopping, from)}), ` +
            `started again at ${secondsSince(t0, to)} (accepting connections ${secondsSince(to, back)} later)`,
        );
      }
      await sleepUntil(t0 + PLAN.loadMs);
      await load.stop();
      actions.unshift(
        `${(PLAN.loadMs / 1000).toFixed(0)} s of load at ${PLAN.rate} sends/s through 1 API process, 1 worker, 8 live followers, ` +
          `one webhook endpoint; PostgreSQL (fsync on) stopped ${PLAN.outages} time(s) for ${PLAN.downMs} ms, same data directory`,
      );

      const counts = await settleAndCount(scenario, PLAN.settleMs, { progressEveryMs: LONG ? 15_000 : 0 });
      const attempts = ledger.attempts();
      const whileDown = attempts.filter((a) => down.some((d) => a.startedAt >= d.from && a.endedAt <= d.to));
      const successesWhileDown = whileDown.filter((a) => a.outcome === 'ok');
      const codesWhileDown = [...new Set(whileDown.filter((a) => a.outcome === 'error').map((a) => `${a.code}/${a.status ?? '-'}`))];
      const recoveries = down.map((d) => {
        const firstOk = attempts.filter((a) => a.outcome === 'ok' && a.startedAt >= d.back).sort((a, b) => a.endedAt - b.endedAt)[0];
        return firstOk ? firstOk.endedAt - d.back : null;
      });
      printReport(`stop PostgreSQL during load${LONG ? ' (long)' : ''}`, actions, counts, [
        `sends made entirely while PostgreSQL was down: ${whileDown.length}, errors ${whileDown.filter((a) => a.outcome === 'error').length} ` +
          `(codes ${codesWhileDown.join(', ') || '-'}), successes ${successesWhileDown.length}`,
        `first success answer after PostgreSQL accepted connections again: ${recoveries.map((r) => (r === null ? 'none' : `${r} ms`)).join(', ')}`,
        `reconciler passes re-enqueued ${worker.reconciled.notifications} ACCEPTED notifications and ${worker.reconciled.webhooks} due webhook deliveries (rows summed over passes)`,
        await processingLatency(platform),
      ]);

      expect(invariantViolations(counts)).toEqual([]);
      expect(whileDown.length, 'sends were made during the outage').toBeGreaterThan(0);
      expect(successesWhileDown).toEqual([]);
      // Typed and retryable (HTTP 503 with retryAfter), never the masked internal error.
      expect(codesWhileDown.filter((c) => !/^(UNAVAILABLE|OVERLOADED)\/503$/.test(c))).toEqual([]);
      expect(recoveries.every((r) => r !== null)).toBe(true);
      // No manual step: the processes that ran before the outage serve after it.
      for (const s of platform.services) {
        expect(s.starts, s.name).toBe(1);
        expect(s.running(), s.name).toBe(true);
      }
    });
  },
  LONG ? 900_000 : 180_000,
);
