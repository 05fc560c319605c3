import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';

/**
 * The console's behaviours page in real headless Chromium (issue #14 item 8: "console page to
 * manage behaviours"): an operator adds a behaviour, sees it in force, a client's
 * trigger_user_event then applies it, a bad form is refused with the field named and nothing
 * changed, and removal takes the outcome away — each change a new program version.
 */

const suite = chromiumAvailable()
  ? describeEachDatabase
  : () => describe.skip('console behaviours in Chromium', () => {});

suite('The console behaviours page in Chromium', (target) => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const programVersion = async () =>
    (await t.request('GET', '/admin/v1/behaviours', { auth: 'admin' })).body.program_version as number;
  const trigger = async (userId: string, event: string) => {
    const res = await t.request('POST', '/incentives/api/1.0/user_events/trigger_user_event', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId, event_lookup: event, is_session_m: 'true' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.payload.outcomes as { is_outcome_applied: boolean; discriminator: string }[];
  };

  beforeAll(async () => {
    t = await startTestApp(target);
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${base}/console/behaviours`);
    await page.getByLabel(/^Your name/).fill('Ops Olu');
    await page.getByLabel('Admin token').fill(t.tenant.admin_token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('opens from the navigation and says when no behaviour is in force', async () => {
    expect(new URL(page.url()).pathname).toBe('/console/behaviours');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Behaviours');
    expect(await page.locator('nav a[aria-current="page"]').innerText()).toBe('Behaviours');
    expect(await page.locator('#no-behaviours').count()).toBe(1);
  });

  it('a form with a bad value is refused with the field named, and no version is written', async () => {
    const before = await programVersion();
    await page.getByLabel(/^Event/).fill('REGISTERS_ONLINE_ACCOUNT');
    await page.getByLabel('Outcome').selectOption('award_points');
    await page.getByLabel('Points').fill('2.5');
    await page.getByRole('button', { name: 'Add behaviour' }).click();
    await expect.poll(() => page.locator('#b-points-error').innerText()).toMatch(/whole number/);
    expect(await page.getByLabel('Points').getAttribute('aria-invalid')).toBe('true');
    // What was typed is kept.
    expect(await page.getByLabel(/^Event/).inputValue()).toBe('REGISTERS_ONLINE_ACCOUNT');
    expect(await programVersion()).toBe(before);
  });

  it('an added behaviour is in force at once: the client event applies it, within its limit', async () => {
    const before = await programVersion();
    await page.goto(`${base}/console/behaviours`);
    await page.getByLabel(/^Event/).fill('REGISTERS_ONLINE_ACCOUNT');
    await page.getByLabel(/^Name/).fill('Registration bonus');
    await page.getByLabel('Outcome').selectOption('award_points');
    await page.getByLabel('Points').fill('250');
    await page.getByLabel(/^At most/).fill('1');
    await page.getByLabel('Counted').selectOption('lifetime');
    await page.getByRole('button', { name: 'Add behaviour' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toMatch(/Behaviour added/);
    const row = page.locator('#behaviours tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.locator('td[data-label="Outcomes"]').innerText()).toBe(
      '250 points to ACME Spendable Account, at most 1 per member',
    );
    expect(await programVersion()).toBe(before + 1);
    await page.screenshot({ path: artifactPath(`${target.name}-behaviours.png`), fullPage: true });

    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'BEH-CONSOLE-1', opted_in: 'true' } },
    });
    const userId = created.body.user.id as string;
    expect(await trigger(userId, 'REGISTERS_ONLINE_ACCOUNT')).toMatchObject([
      { is_outcome_applied: true, discriminator: 'award_points' },
    ]);
    expect((await trigger(userId, 'REGISTERS_ONLINE_ACCOUNT'))[0]!.is_outcome_applied).toBe(false);
    const user = await t.request('GET', `${t.core}/users/${userId}`);
    expect(user.body.user.available_points).toBe(250);
  });

  it('removing a behaviour takes its outcome away from later events, as a new version', async () => {
    const before = await programVersion();
    await page.getByRole('button', { name: 'Remove REGISTERS_ONLINE_ACCOUNT' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toMatch(/Behaviour removed/);
    expect(await page.locator('#no-behaviours').count()).toBe(1);
    expect(await programVersion()).toBe(before + 1);
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'BEH-CONSOLE-2', opted_in: 'true' } },
    });
    expect(await trigger(created.body.user.id, 'REGISTERS_ONLINE_ACCOUNT')).toEqual([]);
    // The refused form's 400 is logged as a failed load; anything else (a CSP violation) is a defect.
    expect(pageErrors.filter((e) => !e.includes('status of 400'))).toEqual([]);
  });
});
