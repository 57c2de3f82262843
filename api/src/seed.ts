// Demo data so the platform is usable before the dashboard exists: a demo user and project, a
// welcome template and a development API key. Prints the key as `PIGEON_API_KEY=<key>` on a line
// of its own, so scripts can capture it.
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '@pigeon/schema';
import { newSigningSecret } from './auth/client-token.ts';
import { hashPassword } from './auth/password.ts';
import { generateApiKey } from './auth/secrets.ts';

export const DEMO_EMAIL = 'demo@pigeon.local';

export interface SeedResult {
  apiKey: string;
  projectId: string;
  environmentId: string;
  /** Set only when this run created the demo user. */
  demoPassword: string | null;
}

/** Creates the demo project if it is missing, and always a fresh development API key. */
export async function seed(prisma: PrismaClient): Promise<SeedResult> {
  let demoPassword: string | null = null;
  let user = await prisma.user.findUnique({ where: { email: DEMO_EMAIL } });
  if (!user) {
    demoPassword = randomBytes(12).toString('base64url');
    user = await prisma.user.create({ data: { email: DEMO_EMAIL, name: 'Demo', passwordHash: await hashPassword(demoPassword) } });
  }
  let environment = await prisma.environment.findFirst({
    where: { kind: 'DEVELOPMENT', project: { memberships: { some: { userId: user.id, role: 'OWNER' } } } },
    orderBy: { createdAt: 'asc' },
  });
  if (!environment) {
    const project = await prisma.project.create({
      data: {
        name: 'Demo project',
        memberships: { create: { userId: user.id, role: 'OWNER' } },
        environments: {
          create: [
            { kind: 'DEVELOPMENT', clientTokenSecret: newSigningSecret() },
            { kind: 'PRODUCTION', clientTokenSecret: newSigningSecret(), introspection: false },
          ],
        },
      },
      include: { environments: true },
    });
    environment = project.environments.find((e) => e.kind === 'DEVELOPMENT') ?? null;
    if (!environment) throw new Error('Demo project was created without a development environment.');
  }
  await prisma.template.upsert({
    where: { environmentId_key: { environmentId: environment.id, key: 'welcome' } },
    create: {
      environmentId: environment.id,
      key: 'welcome',
      name: 'Welcome',
      category: 'account',
      titleSource: 'Welcome, {{ recipient.name | default("friend") }}!',
      bodySource: 'Thanks for joining {{ product | default("Pigeon") }}. Your account is ready.',
      actionUrlSource: '/getting-started',
    },
    update: {},
  });
  const key = generateApiKey('DEVELOPMENT');
  await prisma.apiKey.create({
    data: { environmentId: environment.id, name: `Seed ${new Date().toISOString()}`, prefix: key.prefix, keyHash: key.hash },
  });
  return { apiKey: key.secret, projectId: environment.projectId, environmentId: environment.id, demoPassword };
}

export function printSeed(result: SeedResult, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  write(`PIGEON_API_KEY=${result.apiKey}`);
  if (result.demoPassword) write(`PIGEON_DEMO_LOGIN=${DEMO_EMAIL} ${result.demoPassword}`);
}
