-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "introspection" BOOLEAN NOT NULL DEFAULT true;

-- Existing PRODUCTION environments get the new default of production: no introspection by its
-- keys and tokens (dashboard sessions and GraphiQL with a development key are unaffected).
UPDATE "environments" SET "introspection" = false WHERE "kind" = 'PRODUCTION';
