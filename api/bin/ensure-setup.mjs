// Runs before `npm start` and `npm test` (npm's pre-hooks) on whatever Node the machine has, so it
// is plain JavaScript: installs dependencies from the lockfile when they are missing or stale, then
// generates the Prisma client. After it, the scripts themselves run on the Node 24 that the `node`
// devDependency puts in node_modules/.bin.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
run('npm run --silent codegen');

// The dashboard is served by the API process from dashboard/dist: build it when its sources (or
// what they are built with) changed since the last build. Skipped with PIGEON_SKIP_DASHBOARD_BUILD=1.
const dashboardStamp = join(root, 'dashboard', 'dist', '.pigeon-build-hash');
if (process.env.PIGEON_SKIP_DASHBOARD_BUILD !== '1' && existsSync(join(root, 'dashboard', 'index.html'))) {
  const hash = createHash('sha256').update(lockHash);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'gql') walk(path);
      } else {
        hash.update(path).update(readFileSync(path));
      }
    }
  };
  walk(join(root, 'dashboard', 'src'));
  for (const file of ['dashboard/index.html', 'dashboard/vite.config.ts', 'dashboard/package.json', 'schema/schema.graphql']) {
    const path = join(root, file);
    if (existsSync(path)) hash.update(file).update(readFileSync(path));
  }
  const digest = hash.digest('hex');
  if (!existsSync(dashboardStamp) || readFileSync(dashboardStamp, 'utf8') !== digest) {
    process.stderr.write('Building the dashboard (first run or its sources changed)...\n');
    run('npm run --silent build -w @pigeon/dashboard');
    writeFileSync(dashboardStamp, digest);
  }
}
