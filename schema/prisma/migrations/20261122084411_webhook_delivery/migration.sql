-- DropIndex
DROP INDEX "webhook_deliveries_endpoint_id_created_at_idx";

-- AlterTable
ALTER TABLE "webhook_attempts" ADD COLUMN     "error_message" TEXT,
ADD COLUMN     "response_body_truncated" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "url" TEXT NOT NULL;

-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "failure_reason" TEXT,
ADD COLUMN     "last_attempt_at" TIMESTAMPTZ(3),
ADD COLUMN     "lease_until" TIMESTAMPTZ(3),
ADD COLUMN     "next_trigger" "WebhookAttemptTrigger" NOT NULL DEFAULT 'SCHEDULED',
ADD COLUMN     "scheduled_attempts" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "webhook_endpoints" ADD COLUMN     "consecutive_exhausted" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "failing_since" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "webhook_endpoint_events" (
    "id" UUID NOT NULL,
    "environment_id" UUID NOT NULL,
    "endpoint_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_endpoint_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_endpoint_events_endpoint_id_id_idx" ON "webhook_endpoint_events"("endpoint_id", "id" DESC);

-- CreateIndex
CREATE INDEX "webhook_endpoint_events_environment_id_id_idx" ON "webhook_endpoint_events"("environment_id", "id" DESC);

-- CreateIndex
CREATE INDEX "webhook_attempts_started_at_idx" ON "webhook_attempts"("started_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_endpoint_id_id_idx" ON "webhook_deliveries"("endpoint_id", "id" DESC);

-- CreateIndex
CREATE INDEX "webhook_deliveries_endpoint_id_status_created_at_idx" ON "webhook_deliveries"("endpoint_id", "status", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_environment_id_id_idx" ON "webhook_deliveries"("environment_id", "id" DESC);

-- AddForeignKey
ALTER TABLE "webhook_endpoint_events" ADD CONSTRAINT "webhook_endpoint_events_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_endpoint_events" ADD CONSTRAINT "webhook_endpoint_events_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------
-- Webhook fan-out, written by hand. A webhook delivery row is created in the transaction of the
-- event it reports (durable first: BullMQ jobs only accelerate the rows). The payload is built
-- once, here, and stored: every retry sends the very same body under the same webhook-id.

-- Time-ordered UUIDs (version 7) generated in the database, for rows inserted in bulk by SQL.
CREATE FUNCTION pigeon_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

-- ISO 8601 in UTC with milliseconds, independent of the session's TimeZone (payloads must not
-- depend on which connection wrote them).
CREATE FUNCTION pigeon_iso(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The `data` of every notification.* webhook: the notification as it is at the event.
CREATE FUNCTION pigeon_notification_webhook_data(n notifications, p_recipient_external_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', n.id,
    'environmentId', n.environment_id,
    'status', n.status,
    'recipient', jsonb_build_object('id', p_recipient_external_id),
    'template', n.template_key,
    'title', n.title,
    'body', n.body,
    'actionUrl', n.action_url,
    'category', n.category,
    'data', n.data,
    'idempotencyKey', n.idempotency_key,
    'failureReason', n.failure_reason,
    'createdAt', pigeon_iso(n.created_at),
    'deliveredAt', pigeon_iso(n.delivered_at),
    'seenAt', pigeon_iso(n.seen_at),
    'readAt', pigeon_iso(n.read_at),
    'archivedAt', pigeon_iso(n.archived_at))
$$;

-- The Standard Webhooks body: { type, timestamp, data }.
CREATE FUNCTION pigeon_webhook_payload(p_type text, p_data jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('type', p_type, 'timestamp', pigeon_iso(now()), 'data', p_data)
$$;

-- One delivery per enabled endpoint of the notification's environment that wants `p_type`, for
-- each of the given notifications (which must already be visible to this statement: call it as a
-- separate statement after the change it reports, in the same transaction). PL/pgSQL rather than
-- SQL so that each session plans the INSERT once: a non-inlined SQL function is planned again on
-- every call, which cost every delivered notification about 0.7 ms of PostgreSQL CPU.
CREATE FUNCTION pigeon_webhook_fanout(p_type text, p_notifications uuid[])
RETURNS TABLE (delivery_id uuid, environment_id uuid, endpoint_id uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  INSERT INTO webhook_deliveries AS d (id, environment_id, endpoint_id, notification_id, event_type, payload, next_attempt_at)
  SELECT pigeon_uuid_v7(), n.environment_id, e.id, n.id, p_type,
         pigeon_webhook_payload(p_type, pigeon_notification_webhook_data(n, r.external_id)), now()
    FROM notifications AS n
    JOIN recipients AS r ON r.id = n.recipient_id
    JOIN webhook_endpoints AS e
      ON e.environment_id = n.environment_id AND e.enabled AND p_type = ANY (e.event_types)
   WHERE n.id = ANY (p_notifications)
  RETURNING d.id, d.environment_id, d.endpoint_id;
END
$$;

-- Delivering a notification now also creates its notification.delivered webhook deliveries, in the
-- same transaction, and returns them as [[deliveryId, endpointId], ...] for the worker to enqueue.
-- Everything else is as in 20261122073000_deliver_function.
DROP FUNCTION pigeon_deliver_notification(uuid, text, text, text, text);

CREATE FUNCTION pigeon_deliver_notification(
  p_notification uuid,
  p_title text,
  p_body text,
  p_action_url text,
  p_category text
) RETURNS TABLE (recipient_id uuid, environment_id uuid, seq integer, webhooks jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_recipient uuid;
  v_environment uuid;
  v_seq integer;
  v_unread integer;
  v_unseen integer;
  v_webhooks jsonb;
BEGIN
  SELECT n.recipient_id, n.environment_id INTO v_recipient, v_environment
    FROM notifications AS n WHERE n.id = p_notification;
  IF NOT FOUND THEN
    RETURN;
  END IF;

  SELECT r.last_seq + 1 INTO v_seq FROM recipients AS r WHERE r.id = v_recipient FOR NO KEY UPDATE;

  UPDATE notifications AS n
     SET status = 'DELIVERED', title = p_title, body = p_body, action_url = p_action_url,
         category = p_category, delivered_at = now(), delivered_seq = v_seq, updated_at = now()
   WHERE n.id = p_notification AND n.status = 'ACCEPTED';
  IF NOT FOUND THEN
    RETURN;
  END IF;

  UPDATE recipients AS r
     SET last_seq = v_seq, unread_count = r.unread_count + 1, unseen_count = r.unseen_count + 1
   WHERE r.id = v_recipient
  RETURNING r.unread_count, r.unseen_count INTO v_unread, v_unseen;

  INSERT INTO inbox_events (recipient_id, seq, environment_id, type, notification_id, unread_count, unseen_count)
  VALUES (v_recipient, v_seq, v_environment, 'DELIVERED', p_notification, v_unread, v_unseen);

  -- Most environments have no endpoint for this event: one index probe instead of the fan-out.
  v_webhooks := '[]'::jsonb;
  IF EXISTS (SELECT 1 FROM webhook_endpoints AS e
              WHERE e.environment_id = v_environment AND e.enabled AND 'notification.delivered' = ANY (e.event_types)) THEN
    SELECT COALESCE(jsonb_agg(jsonb_build_array(f.delivery_id, f.endpoint_id)), '[]'::jsonb) INTO v_webhooks
      FROM pigeon_webhook_fanout('notification.delivered', ARRAY[p_notification]) AS f;
  END IF;

  RETURN QUERY SELECT v_recipient, v_environment, v_seq, v_webhooks;
END
$$;

-- Disabling an endpoint (410 Gone, continuous failure, or by hand): one transaction that disables
-- it, records an endpoint.disabled event visible to the project, fails its waiting deliveries, and creates endpoint.disabled
-- deliveries for the environment's other endpoints that subscribe to it (returned for enqueueing).
-- An endpoint that is already disabled is left alone and nothing is returned.
CREATE FUNCTION pigeon_disable_webhook_endpoint(p_endpoint uuid, p_reason text)
RETURNS TABLE (delivery_id uuid, environment_id uuid, endpoint_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
  v_endpoint webhook_endpoints;
BEGIN
  UPDATE webhook_endpoints AS e
     SET enabled = false, disabled_at = now(), disabled_reason = p_reason, updated_at = now()
   WHERE e.id = p_endpoint AND e.enabled
  RETURNING * INTO v_endpoint;
  IF NOT FOUND THEN
    RETURN;
  END IF;

  INSERT INTO webhook_endpoint_events (id, environment_id, endpoint_id, type, reason)
  VALUES (pigeon_uuid_v7(), v_endpoint.environment_id, v_endpoint.id, 'endpoint.disabled', p_reason);

  -- Its waiting deliveries stop now (recoverWebhookDeliveries resends them after re-enabling). One
  -- in flight is recorded by its worker, whose next claim then fails it the same way.
  UPDATE webhook_deliveries AS w
     SET status = 'FAILED', failure_reason = 'The endpoint is disabled.', completed_at = now(),
         next_attempt_at = NULL, next_trigger = 'SCHEDULED', updated_at = now()
   WHERE w.endpoint_id = v_endpoint.id AND w.status = 'PENDING' AND (w.lease_until IS NULL OR w.lease_until < now());

  RETURN QUERY
  INSERT INTO webhook_deliveries AS d (id, environment_id, endpoint_id, event_type, payload, next_attempt_at)
  SELECT pigeon_uuid_v7(), o.environment_id, o.id, 'endpoint.disabled',
         pigeon_webhook_payload('endpoint.disabled', jsonb_build_object(
           'endpointId', v_endpoint.id,
           'url', v_endpoint.url,
           'description', v_endpoint.description,
           'reason', p_reason,
           'disabledAt', pigeon_iso(v_endpoint.disabled_at))),
         now()
    FROM webhook_endpoints AS o
   WHERE o.environment_id = v_endpoint.environment_id AND o.id <> v_endpoint.id AND o.enabled
     AND 'endpoint.disabled' = ANY (o.event_types)
  RETURNING d.id, d.environment_id, d.endpoint_id;
END
$$;
