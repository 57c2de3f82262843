// The reference pipeline bench/send.ts compares `send` with: plain node:http, one `pg` pool, the
// same SQL `send` runs and the same BullMQ add, nothing else. No GraphQL, no authentication, no
// rate budget, no validation beyond JSON parsing: what any service that stores a notification and
// queues its render has to do at the least. Started by bench/send.ts as its own process (like the
// API), with the bench's database, Redis prefix and environment.
//
// The statement mirrors api/src/schema/send.ts (runSendStatement) for an inline send with an
// idempotency key and no recipient profile: the earlier-send check by idempotency key, the recipient
// upsert that never rewrites an existing row (api/src/recipients.ts), the notification insert and
// the notification.accepted webhook fan-out — one statement, so one implicit transaction, prepared
// once per connection as `send`'s is. Title and body are escaped and the request hashed as `send`
// does. The render job is added through the worker's own catalog (enqueueRender: same queue, job
// id and options), so the worker renders and delivers these notifications exactly like `send`'s.
//
// POST /send {"to","title","body","category","idempotencyKey"} → 200 {"id"}; GET /readyz → 200.
// Environment: DATABASE_URL, REDIS_URL, REDIS_PREFIX, ENVIRONMENT_ID, PORT, DATABASE_POOL_SIZE (10).
import { createHash } from 'node:crypto';
import http from 'node:http';
import { createRenderQueue, enqueueRender } from '@pigeon/worker/jobs';
import { escapeHtml } from '@pigeon/worker/render/escape';
import { Redis } from 'ioredis';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';

const need = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const environmentId = need('ENVIRONMENT_ID');
const pool = new pg.Pool({ connectionString: need('DATABASE_URL'), max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
const queueConnection = new Redis(need('REDIS_URL'), { maxRetriesPerRequest: null });
const renderQueue = createRenderQueue(queueConnection, { prefix: need('REDIS_PREFIX') });

// $1 environment, $2 idempotency key, $3 new recipient id, $4 external id, $5 notification id,
// $6 title, $7 body, $8 category, $9 request hash.
const SEND_SQL = `
WITH existing AS (
  SELECT id FROM notifications WHERE environment_id = $1::uuid AND idempotency_key = $2
),
inserted_recipient AS (
  INSERT INTO recipients (id, environment_id, external_id, name, email, metadata)
  SELECT $3::uuid, $1::uuid, $4, NULL::text, NULL::text, NULL::jsonb
  WHERE NOT EXISTS (SELECT 1 FROM existing)
  ON CONFLICT (environment_id, external_id) DO NOTHING
  RETURNING id
),
recipient AS (
  (SELECT id FROM inserted_recipient)
  UNION ALL
  (SELECT id FROM recipients WHERE environment_id = $1::uuid AND external_id = $4)
  LIMIT 1
),
notification AS (
  INSERT INTO notifications (id, environment_id, recipient_id, template_id, template_key, title, body, action_url,
    category, data, idempotency_key, request_hash)
  SELECT $5::uuid, $1::uuid, recipient.id, NULL::uuid, NULL::text, $6::text, $7::text, NULL::text, $8::text, NULL::jsonb, $2::text, $9
  FROM recipient
  WHERE NOT EXISTS (SELECT 1 FROM existing)
  RETURNING id, notifications AS "wholeRow"
),
hooks AS (
  INSERT INTO webhook_deliveries (id, environment_id, endpoint_id, notification_id, event_type, payload, next_attempt_at)
  SELECT pigeon_uuid_v7(), e.environment_id, e.id, notification.id, 'notification.accepted',
    pigeon_webhook_payload('notification.accepted', pigeon_notification_webhook_data(notification."wholeRow", $4::text)), now()
  FROM notification JOIN webhook_endpoints AS e
    ON e.environment_id = $1::uuid AND e.enabled AND 'notification.accepted' = ANY (e.event_types)
  RETURNING id
)
SELECT (SELECT id::text FROM notification) AS id, (SELECT id::text FROM existing) AS "existingId",
  (SELECT count(*) FROM hooks)::int AS hooks`;

interface SendBody {
  to: string;
  title: string;
  body: string;
  category?: string;
  idempotencyKey: string;
}

async function send(input: SendBody): Promise<string> {
  const { idempotencyKey, ...payload } = input;
  const hash = createHash('sha256').update(JSON.stringify(payload)).digest('hex');
  const title = escapeHtml(input.title);
  const body = escapeHtml(input.body);
  // Twice, like send: a recipient created concurrently after this statement's snapshot is invisible to it.
  for (let attempt = 1; attempt <= 2; attempt++) {
    const { rows } = await pool.query<{ id: string | null; existingId: string | null }>({
      name: 'bare_send',
      text: SEND_SQL,
      values: [environmentId, idempotencyKey, uuidv7(), input.to, uuidv7(), title, body, input.category ?? null, hash],
    });
    const row = rows[0];
    if (row?.existingId) return row.existingId;
    if (row?.id) {
      await enqueueRender(renderQueue, { notificationId: row.id, environmentId });
      return row.id;
    }
  }
  throw new Error('recipient neither inserted nor visible');
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method !== 'POST' || req.url !== '/send') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let input: SendBody;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SendBody;
    } catch {
      res.writeHead(400).end();
      return;
    }
    send(input).then(
      (id) => {
        const json = JSON.stringify({ id });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
      },
      (error: Error) => {
        const json = JSON.stringify({ error: error.message });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(need('PORT')), '127.0.0.1');

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.all([renderQueue.close(), pool.end()]).finally(() => {
    queueConnection.disconnect();
    process.exit(0);
  });
});
