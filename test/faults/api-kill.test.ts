// kill -9 an API process while sends and live streams run through two of them. A send that got a
// success answer must be stored and processed; a send whose answer was lost is retried by the
// client with the same idempotency key on the other process (the answer says `duplicate: true`
// when the first one had been stored); subscribers of the killed process resubscribe on the other
// with their last cursor and continue with no gap and no repeat. The killed process is restarted
// on its port, and the next kill takes the other one.
//
// Short (CI): 15 s of load, 2 kills. PIGEON_FAULTS_LONG=1: 3 minutes, 16 kills.
import { expect, it } from 'vitest';
import { invariantViolations, printReport, processingLatency, settleAndCount, startScenario } from './load.ts';
import { secondsSince, withPlatform } from './platform.ts';
import { sleep, sleepUntil } from './services.ts';

const LONG = process.env.PIGEON_FAULTS_LONG === '1';
const PLAN = LONG ? { loadMs: 180_000, kills: 16, rate: 60, settleMs: 180_000 } : { loadMs: 15_000, kills: 2, rate: 60, settleMs: 60_000 };
const DOWN_MS = 1_000;

it(
  `acknowledged sends survive kill -9 of an API process, and its subscribers resume on the other with no gap (${PLAN.kills} kills)`,
  async () => {
    await withPlatform({}, async (platform, defer) => {
      const [api1, api2] = await Promise.all([platform.spawnApi('api #1'), platform.spawnApi('api #2'), platform.spawnWorker('worker')]);
      const apis = [api1, api2];
      const scenario = await startScenario(
        platform,
        {
          // Sends alternate between the two processes; half of the followers start on each.
          bases: () => apis.map((a) => a.base),
          recipientPrefix: 'api-kill',
          recipientCount: 8,
          ratePerSecond: PLAN.rate,
          // A client retries a send that got no answer, with the same key, through the other process.
          retries: 3,
        },
        defer,
      );
      const { ledger, followers, load } = scenario;
      const actions: string[] = [];
      const t0 = load.startedAt;
      let movedBefore = 0;
      for (let k = 0; k < PLAN.kills; k++) {
        const at = t0 + ((k + 0.5) * PLAN.loadMs) / PLAN.kills + (Math.random() - 0.5) * 1_000;
        await sleepUntil(at);
        const api = apis[k % apis.length] ?? apis[0];
        if (!api) throw new Error('no API');
        const killedAt = Date.now();
        await api.kill('SIGKILL');
        await sleep(DOWN_MS);
        await api.start();
        const moved = followers.reduce((s, f) => s + f.moves, 0);
        actions.push(
          `kill -9 ${api.name} at ${secondsSince(t0, killedAt)}, restarted on its port after ${DOWN_MS} ms ` +
            `(ready after ${secondsSince(killedAt)}); streams moved since the previous kill: ${moved - movedBefore}`,
        );
        movedBefore = moved;
      }
      await sleepUntil(t0 + PLAN.loadMs);
      await load.stop();
      actions.unshift(
        `${(PLAN.loadMs / 1000).toFixed(0)} s of load at ${PLAN.rate} sends/s alternating between 2 API processes (8 senders, ` +
          `up to 3 retries with the same key on the other process), 8 live followers (4 per process), 1 worker; ${PLAN.kills} SIGKILLs`,
      );

      const counts = await settleAndCount(scenario, PLAN.settleMs, { progressEveryMs: LONG ? 15_000 : 0 });
      printReport(`kill -9 an API process during load${LONG ? ' (long)' : ''}`, actions, counts, [await processingLatency(platform)]);

      expect(invariantViolations(counts)).toEqual([]);
      // Every killed process had subscribers; each of them moved to the other process.
      expect(counts.inbox.movedToOtherProcess).toBeGreaterThanOrEqual(PLAN.kills);
      // A send in flight during a kill was retried: whatever happened, it was stored once.
      const unresolved = ledger.records.filter((r) => !r.attempts.some((a) => a.outcome === 'ok'));
      expect(unresolved.map((r) => r.attempts)).toEqual([]);
    });
  },
  LONG ? 900_000 : 150_000,
);
