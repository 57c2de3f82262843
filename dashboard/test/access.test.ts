// Who may do what, and what a person sees when they get it wrong, in Chromium against the real
// platform: an OWNER invites a MEMBER through the dashboard, the MEMBER joins through the link and
// finds keys and templates read-only (and the API refuses them anyway); the auth forms explain a wrong
// password, a taken email and a weak password; on a phone the navigation lives behind a menu.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpClient, signUp, uniqueName } from '../../api/test/harness.ts';
import {
  clipboardText,
  createProjectThroughUi,
  type DashboardKit,
  fieldError,
  PASSWORD,
  PHONE,
  signUpThroughUi,
  startDashboardKit,
  waitForText,
} from './kit.ts';

let kit: DashboardKit;

beforeAll(async () => {
  kit = await startDashboardKit();
}, 180_000);
afterAll(() => kit?.close(), 60_000);
beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(kit?.describe())));

const CREATE_KEY = `mutation($e: ID!, $name: String!) {
  createApiKey(environmentId: $e, input: { name: $name }) { __typename ... on CreatedApiKey { secret } }
}`;

describe('roles', () => {
  it('an invited MEMBER joins through the link, sees no key or template controls, and the API refuses them', async () => {
    // --- the OWNER: a project with a key and a template, and an invitation link for a MEMBER ---------
    const owner = await kit.newBrowser();
    await owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kit.origin });
    const page = await signUpThroughUi(owner, `${uniqueName('owner')}@example.com`, 'Olive Owner');
    const projectId = await createProjectThroughUi(page, 'Roles project');

    await page.getByTestId('nav-api-keys').click();
    await page.getByTestId('new-api-key').click();
    await page.getByTestId('key-name').fill('ops backend');
    await page.getByTestId('create-key-submit').click();
    await page.getByTestId('new-key-secret').waitFor();
    await page.getByTestId('key-done').click();
    await waitForText(page.getByTestId('api-key-row'), /ops backend/);

    await page.getByTestId('nav-templates').click();
    await page.getByTestId('new-template').click();
    await page.getByTestId('template-key').fill('welcome');
    await page.getByTestId('template-title').fill('Welcome, {{ name }}');
    await page.getByTestId('template-body').fill('Glad to have you on board.');
    await page.getByTestId('save-template').click();
    await page.waitForURL(/\/templates\/welcome$/);

    const memberEmail = `${uniqueName('member')}@example.com`;
    await page.getByTestId('nav-members').click();
    await page.getByTestId('invite-email').fill(memberEmail);
    await page.getByTestId('invite-role').selectOption('MEMBER');
    expect(
      await page
        .locator('.field', { has: page.getByTestId('invite-role') })
        .locator('.field-hint')
        .textContent(),
    ).toBe('Reads everything in the project.');
    await page.getByTestId('invite-submit').click();
    const linkBox = page.getByTestId('invitation-link');
    const link = (await linkBox.getByTestId('secret-value').textContent())?.trim() ?? '';
    expect(link).toMatch(new RegExp(`^${kit.origin}/invitations/[\\w-]+$`));
    await linkBox.getByRole('button', { name: `Copy invitation link for ${memberEmail}` }).click();
    expect(await clipboardText(kit, page)).toBe(link);
    await waitForText(page.getByTestId('invitation-row'), new RegExp(`${memberEmail}.*Member`));
    await kit.screenshot(page, 'members-invitation');

    // --- the MEMBER, in a browser of their own: the link, then sign-up, claims the invitation --------
    const member = await kit.newBrowser();
    const memberPage = await member.open(link);
    const summary = memberPage.getByTestId('invitation-summary');
    await waitForText(summary, new RegExp(`You are invited to Roles project as Member.*for ${memberEmail}`));
    // The button names the (long) email and keeps it inside.
    const signUpButton = memberPage.getByTestId('invitation-signup');
    expect(await signUpButton.textContent()).toBe(`Sign up as ${memberEmail}`);
    expect(await signUpButton.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await kit.screenshot(memberPage, 'invitation');
    await signUpButton.click();
    await memberPage.waitForURL(/\/signup\?email=/);
    expect(await memberPage.getByTestId('signup-email').inputValue()).toBe(memberEmail);
    await memberPage.getByTestId('signup-password').fill(PASSWORD);
    await memberPage.getByTestId('signup-submit').click();
    await memberPage.waitForURL(new RegExp(`/projects/${projectId}/development/notifications$`));
    expect(await memberPage.locator('.project-role').textContent()).toBe('Your role: Member');

    // Keys: listed, but nothing to create or revoke.
    await memberPage.getByTestId('nav-api-keys').click();
    await waitForText(memberPage.getByTestId('api-key-row'), /ops backend.*Active/);
    await memberPage.locator('.alert', { hasText: 'Only admins and owners can create or revoke keys.' }).waitFor();
    expect(await memberPage.getByTestId('new-api-key').count()).toBe(0);
    expect(await memberPage.getByTestId('revoke-key').count()).toBe(0);
    expect(await memberPage.getByRole('button', { name: /create|revoke/i }).count()).toBe(0);
    await kit.screenshot(memberPage, 'member-api-keys');

    // Templates: readable and previewable, not editable.
    await memberPage.getByTestId('nav-templates').click();
    await waitForText(memberPage.getByTestId('template-row'), /welcome/);
    expect(await memberPage.getByTestId('new-template').count()).toBe(0);
    expect(await memberPage.getByTestId('delete-template').count()).toBe(0);
    await memberPage.getByTestId('template-row').getByRole('link', { name: 'welcome' }).click();
    await memberPage.waitForURL(/\/templates\/welcome$/);
    await memberPage.locator('.alert', { hasText: 'Read only: admins and owners edit templates.' }).waitFor();
    expect(await memberPage.getByTestId('template-key').getAttribute('readonly')).not.toBeNull();
    expect(await memberPage.getByTestId('template-title').getAttribute('readonly')).not.toBeNull();
    expect(await memberPage.getByTestId('template-body').getAttribute('readonly')).not.toBeNull();
    expect(await memberPage.getByTestId('save-template').count()).toBe(0);
    expect(await memberPage.getByTestId('delete-template').count()).toBe(0);
    expect(await memberPage.getByTestId('test-send').count()).toBe(0);
    // The preview works for everyone, with sample data guessed from the template's variables.
    await waitForText(memberPage.getByTestId('preview-title'), /^Welcome, sample-name$/);
    await kit.screenshot(memberPage, 'member-template');

    await memberPage.getByTestId('nav-members').click();
    await waitForText(memberPage.getByTestId('members-table'), new RegExp(`Olive Owner.*Owner.*${memberEmail}.*Member`));
    expect(await memberPage.getByTestId('invite-form').count()).toBe(0);
    expect(await memberPage.getByTestId('remove-member').count()).toBe(0);

    // --- the API decides anyway: createApiKey with the MEMBER's own session is FORBIDDEN ----------------
    const memberHeaders = await member.sessionHeaders();
    const projects = await kit.gql('{ projects { id viewerRole environments { id kind } } }', {}, memberHeaders);
    const project = projects.body.data?.projects?.[0];
    expect(project).toMatchObject({ id: projectId, viewerRole: 'MEMBER' });
    const developmentId = project.environments.find((e: { kind: string }) => e.kind === 'DEVELOPMENT').id as string;
    const refused = await kit.gql(CREATE_KEY, { e: developmentId, name: 'member attempt' }, memberHeaders);
    expect(refused.body.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(refused.body.data?.createApiKey ?? null).toBeNull();
    // The same request with the OWNER's session succeeds: the refusal is the role, not the request.
    const ownerHeaders = await owner.sessionHeaders();
    const allowed = await kit.gql(CREATE_KEY, { e: developmentId, name: 'owner control' }, ownerHeaders);
    expect(allowed.body.data?.createApiKey?.secret).toMatch(/^sk_dev_/);
    const keys = await kit.gql('query($e: ID!) { apiKeys(environmentId: $e) { name } }', { e: developmentId }, ownerHeaders);
    expect(keys.body.data.apiKeys.map((k: { name: string }) => k.name).sort()).toEqual(['ops backend', 'owner control']);

    // --- the OWNER sees the invitation claimed -----------------------------------------------------
    await page.reload();
    await waitForText(page.getByTestId('members-table'), new RegExp(memberEmail));
    const memberRow = page.getByTestId('member-row').filter({ hasText: memberEmail });
    expect(await memberRow.getByTestId('member-role').inputValue()).toBe('MEMBER');
    expect(await page.getByTestId('invitations').getByTestId('empty-state').textContent()).toContain('No pending invitations');
    await kit.screenshot(page, 'members');

    owner.assertNoErrors();
    member.assertNoErrors();
    await owner.close();
    await member.close();
  }, 180_000);
});

describe('auth forms', () => {
  it('explain a weak password, a taken email and a wrong password at the right place', async () => {
    // Someone already has this email (set up over the API: the form is what is under test).
    const existing = await signUp(httpClient(kit.origin));
    const browser = await kit.newBrowser();
    const page = await browser.open('/signup');

    await page.getByTestId('signup-email').fill(`${uniqueName('weak')}@example.com`);
    await page.getByTestId('signup-password').fill('short');
    await page.getByTestId('signup-submit').click();
    await waitForText(fieldError(page, 'signup-password'), /^Password must be at least 10 characters long\.$/);
    expect(await page.getByTestId('signup-password').getAttribute('aria-invalid')).toBe('true');
    expect(await fieldError(page, 'signup-email').count()).toBe(0);
    expect(new URL(page.url()).pathname).toBe('/signup');
    await kit.screenshot(page, 'signup-weak-password');

    await page.getByTestId('signup-email').fill(existing.email);
    await page.getByTestId('signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();
    const taken = await waitForText(fieldError(page, 'signup-email'), /\S/);
    expect(taken).toMatch(/already/i);
    expect(await page.getByTestId('signup-email').getAttribute('aria-invalid')).toBe('true');
    expect(await fieldError(page, 'signup-password').count()).toBe(0);
    await kit.screenshot(page, 'signup-email-taken');

    await page.getByTestId('login-link').click();
    await page.waitForURL(/\/login$/);
    await page.getByTestId('login-email').fill(existing.email);
    await page.getByTestId('login-password').fill('not the right password');
    await page.getByTestId('login-submit').click();
    const wrong = await waitForText(page.getByTestId('login-error'), /\S/);
    expect(wrong).toMatch(/email or password/i);
    expect(new URL(page.url()).pathname).toBe('/login');
    await kit.screenshot(page, 'login-wrong-password');

    // The right password then works: the error was about the password only.
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(/\/projects$/);
    expect(await page.getByTestId('user-email').textContent()).toContain(existing.email);

    browser.assertNoErrors();
    await browser.close();
  }, 90_000);
});

describe('on a phone (390×844)', () => {
  it('shows projects and notifications, with the navigation behind the menu button', async () => {
    // A user with one delivered notification, set up over the API; everything after is the phone.
    const api = httpClient(kit.origin);
    const user = await signUp(api);
    const created = await api.gql(
      'mutation { createProject(input: { name: "Pocket app" }) { ... on CreateProjectSuccess { project { id environments { id kind } } } } }',
      {},
      user.headers,
    );
    const project = created.body.data.createProject.project;
    const developmentId = project.environments.find((e: { kind: string }) => e.kind === 'DEVELOPMENT').id as string;
    const key = await api.gql(CREATE_KEY, { e: developmentId, name: 'phone test' }, user.headers);
    const apiKey = key.body.data.createApiKey.secret as string;
    const sent = await api.gql(
      'mutation { send(input: { to: "lin", title: "Your invoice is ready", body: "Invoice <b>#42</b> is ready." }) { __typename } }',
      {},
      { authorization: `Bearer ${apiKey}` },
    );
    expect(sent.body.data.send.__typename).toBe('SendSuccess');

    const phone = await kit.newBrowser({ viewport: PHONE, isMobile: true, hasTouch: true });
    const page = await phone.open('/login');
    await page.getByTestId('login-email').fill(user.email);
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').tap();
    await page.waitForURL(new RegExp(`/projects/${project.id}/development/notifications$`));
    const row = page.getByTestId('notification-row');
    await waitForText(row, /lin.*Your invoice is ready.*Delivered/);
    const menu = page.getByTestId('menu-button');
    expect(await menu.isVisible()).toBe(true);
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    // The drawer is closed: its links are neither shown nor reachable with the keyboard.
    expect(await page.getByTestId('nav-recipients').isVisible()).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(await page.getByTestId('env-switcher').isVisible()).toBe(true);
    await kit.screenshot(page, 'phone-notifications', { fullPage: false });

    await menu.tap();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await page.getByTestId('nav-recipients').waitFor({ state: 'visible' });
    // It slides in (0.18 s): wait until it rests against the left edge.
    const sidebar = page.locator('#sidebar');
    await kit.waitUntil('the drawer to open', async () => (await sidebar.boundingBox())?.x === 0);
    await kit.screenshot(page, 'phone-nav-open', { fullPage: false });
    await page.getByTestId('nav-recipients').tap();
    await page.waitForURL(/\/development\/recipients$/);
    await waitForText(page.getByTestId('recipient-row'), /lin/);
    // Navigating closes the drawer.
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    await page.getByTestId('nav-recipients').waitFor({ state: 'hidden' });

    // The project list, from the drawer's project picker.
    await menu.tap();
    await page.getByTestId('project-picker').selectOption('__all');
    await page.waitForURL(/\/projects$/);
    await waitForText(page.getByTestId('project-link'), /Pocket app.*Owner/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await kit.screenshot(page, 'phone-projects', { fullPage: false });

    phone.assertNoErrors();
    await phone.close();
  }, 90_000);
});
