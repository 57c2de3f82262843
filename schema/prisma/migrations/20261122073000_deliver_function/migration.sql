-- Delivering a notification in one round trip: the render worker calls this once per notification
-- instead of running five statements in an interactive transaction (each round trip costs the
-- worker far more CPU than the work the database does).
--
-- Invariants kept (see worker/src/render-notification.ts):
--   - lock order everywhere: the recipient row first (FOR NO KEY UPDATE, which does not block the
--     KEY SHARE lock a send's foreign key takes), then its notifications;
--   - the recipient lock makes inbox sequence order equal commit order; the next sequence number is
--     last_seq + 1, read under that lock;
--   - only an ACCEPTED notification is delivered (a duplicate job returns no row).
CREATE FUNCTION pigeon_deliver_notification(
  p_notification uuid,
  p_title text,
  p_body text,
  p_action_url text,
  p_category text
) RETURNS TABLE (recipient_id uuid, environment_id uuid, seq integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_recipient uuid;
  v_environment uuid;
  v_seq integer;
  v_unread integer;
  v_unseen integer;
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

  RETURN QUERY SELECT v_recipient, v_environment, v_seq;
END
$$;
