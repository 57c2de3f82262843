export { acquireDataDirLock, DataDirLockedError } from './data-dir-lock.ts';
export { type Database, openEmbedded, openPostgres, type PostgresOptions, type SqlStatement } from './db.ts';
export * from './generated/prisma/client.ts';
export { DEFAULT_DATA_DIR } from './paths.ts';
