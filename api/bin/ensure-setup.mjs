// Runs before `npm start` and `npm test` (npm's pre-hooks) on whatever Node the machine has, so it
// is plain JavaScript: installs dependencies from the lockfile when they are missing or stale, then
// generates the Prisma client. After it, the scripts themselves run on the Node 24 that the `node`
// devDependency puts in node_modules/.bin.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stamp = join(root, 'node_modules', '.pigeon-lock-hash');
const lockHash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .digest('hex');
const installed = existsSync(stamp) && readFileSync(stamp, 'utf8') === lockHash;

const run = (command) => execSync(command, { cwd: root, stdio: 'inherit' });

if (!installed) {
  process.stderr.write('Installing dependencies from package-lock.json (first run or lockfile changed)...\n');
  run('npm ci --no-audit --no-fund');
  writeFileSync(stamp, lockHash);
}
run('npm run --silent generate -w @pigeon/schema');
