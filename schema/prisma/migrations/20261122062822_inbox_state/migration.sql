-- AlterEnum
ALTER TYPE "InboxEventType" ADD VALUE 'ALL_SEEN';

-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "api_key_ops_per_minute" INTEGER NOT NULL DEFAULT 60000,
ADD COLUMN     "client_token_ops_per_minute" INTEGER NOT NULL DEFAULT 600;

-- AlterTable
ALTER TABLE "inbox_events" ADD COLUMN     "up_to_seq" INTEGER;

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "delivered_seq" INTEGER;

-- Backfill: the sequence number of each delivered notification's DELIVERED event.
UPDATE "notifications" AS n
   SET "delivered_seq" = e."seq"
  FROM "inbox_events" AS e
 WHERE e."notification_id" = n."id" AND e."type" = 'DELIVERED';
