import { fileURLToPath } from 'node:url';

/** The embedded database's default home: `.data/pglite` at the repository root, whichever
 * directory a command runs from (npm runs workspace scripts inside the workspace). */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../.data/pglite', import.meta.url));
