import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { throttleDelayMs } from './deliver.ts';
import { DEFAULT_RETRY_SCHEDULE, nextRetryDelay, parseSchedule, type RetryPolicy } from './schedule.ts';
import { newWebhookSecret, SECRET_PREFIX, signWebhook } from './secret.ts';

describe('retry schedule', () => {
  it('defaults to immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(parseSchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it('parses every unit and refuses what is not a duration, naming it', () => {
    expect(parseSchedule(' 250ms, 1.5s ,2m,1h,1d ')).toEqual([250, 1_500, 120_000, 3_600_000, 86_400_000]);
    expect(() => parseSchedule('')).toThrow(/at least one/);
    expect(() => parseSchedule('5s,soon')).toThrow(/"soon"/);
    expect(() => parseSchedule('-5s')).toThrow(/"-5s"/);
    expect(() => parseSchedule('5')).toThrow(/"5"/);
    expect(() => parseSchedule(Array(51).fill('1s').join(','))).toThrow(/at most 50/);
  });

  const policy = (random: number, overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
    schedule: [0, 5_000, 300_000],
    jitter: 0.2,
    maxRetryAfterMs: 3_600_000,
    random: () => random,
    ...overrides,
  });

  it('waits the scheduled time with at most ±20 % jitter, and stops when the schedule is exhausted', () => {
    expect(nextRetryDelay(policy(0.5), 1, null)).toBe(5_000);
    expect(nextRetryDelay(policy(0), 1, null)).toBe(4_000);
    expect(nextRetryDelay(policy(0.999999), 2, null)).toBe(360_000);
    expect(nextRetryDelay(policy(0.5), 0, null)).toBe(0);
    expect(nextRetryDelay(policy(0.5), 3, null)).toBeNull();
    expect(nextRetryDelay(policy(0.5), 4, null)).toBeNull();
  });

  it("honours a receiver's Retry-After as a lower bound, clamped", () => {
    expect(nextRetryDelay(policy(0.5), 1, 60_000)).toBe(60_000);
    expect(nextRetryDelay(policy(0.5), 1, 1_000)).toBe(5_000);
    expect(nextRetryDelay(policy(0.5, { maxRetryAfterMs: 10_000 }), 1, 86_400_000)).toBe(10_000);
    expect(nextRetryDelay(policy(0.5), 1, -5)).toBe(5_000);
    // Exhausted stays exhausted whatever the receiver asks.
    expect(nextRetryDelay(policy(0.5), 3, 1_000)).toBeNull();
  });
});

describe('secrets and signatures', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a.startsWith(SECRET_PREFIX)).toBe(true);
    expect(Buffer.from(a.slice(SECRET_PREFIX.length), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('signs so that standardwebhooks verifies, with one signature per secret during a rotation', () => {
    const current = newWebhookSecret();
    const previous = newWebhookSecret();
    const body = '{"type": "webhook.test", "data": {"a": 1}}';
    const at = new Date();
    const headers = signWebhook('msg-1', body, [current, previous], at);
    expect(headers['webhook-id']).toBe('msg-1');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    const signatures = headers['webhook-signature'].split(' ');
    expect(signatures).toHaveLength(2);
    for (const s of signatures) expect(s).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // A receiver that knows only one of the two secrets accepts the request.
    expect(new Webhook(current).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, { ...headers })).toThrow();
    // The body is covered: one changed byte fails.
    expect(() => new Webhook(current).verify(body.replace('1', '2'), { ...headers })).toThrow();
    expect(() => signWebhook('msg-1', body, [], at)).toThrow();
  });
});

describe('throttled jobs', () => {
  it('wait longer each time their endpoint turns them away, within bounds', () => {
    expect(throttleDelayMs(1, () => 0)).toBe(100);
    expect(throttleDelayMs(1, () => 0.999)).toBe(300);
    expect(throttleDelayMs(3, () => 0.5)).toBe(450);
    expect(throttleDelayMs(50, () => 0)).toBe(2_500);
    expect(throttleDelayMs(50, () => 0.999)).toBe(7_495);
  });
});
