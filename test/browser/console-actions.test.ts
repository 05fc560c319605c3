import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';
import { STORY_NOW, STORY_START, apiUser, tellStory, type Story } from './console-story.js';

/**
 * What a care agent can do from the member page, in real headless Chromium on both databases
 * (issue #18 items 10 and 12): move a tier with a reason, edit contact details, resend a gift card,
 * ask what a basket would earn — each through the API's own service, refused with the API's own
 * error code and sentence — and every change, adjustments and opt-outs included, recorded under the
 * agent's name in the member's history and in the API's audit log and tier history.
 */

const suite = chromiumAvailable()
  ? describeEachDatabase
  : () => describe.skip('console actions in Chromium', () => {});

const AGENT = 'Dana Whitfield';

suite('Care agent actions in Chromium', (target) => {
  let t: TestApp;
  let story: Story;
  let base: string;
  let browser: Browser;
  let page: Page;
  /** How the audit trail names this agent: `Dana Whitfield (console, token lat_…)`. */
  let agent: string;
  const pageErrors: string[] = [];
  const shot = (name: string) => artifactPath(`${target.name}-actions-${name}.png`);

  beforeAll(async () => {
    t = await startTestApp(target, STORY_START);
    story = await tellStory(t);
    agent = `${AGENT} (console, token ${t.tenant.admin_token.split('_').slice(0, 2).join('_')})`;
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${base}/console/login`);
    await page.getByLabel(/^Your name/).fill(AGENT);
    await page.getByLabel('Admin token').fill(t.tenant.admin_token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Find a member' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  // The simulated clock stands still: each change gets its own minute, so "newest first" is one order.
  let minutes = 0;
  const tick = () => t.setNow(new Date(Date.parse(STORY_NOW) + ++minutes * 60_000).toISOString());
  const member = (id = story.userId) => page.goto(`${base}/console/members/${id}`);
  const notice = () => page.locator('.notice').innerText();
  const history = () =>
    page.locator('#history tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        kind: tr.getAttribute('data-kind'),
        reason: (tr.querySelector('.reason') as HTMLElement).innerText.replace(/ View purchase$/, '').trim(),
      })),
    );
  const auditLog = async (userId: string) => {
    const res = await t.request('POST', '/incentives/api/2.0/user_points/fetch_point_audit_logs', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId, take: 500 },
    });
    expect(res.status).toBe(200);
    return res.body.payload.results as { modification_type: string; reason: string }[];
  };
  const tierHistory = async (userId: string) => {
    const res = await t.request('GET', `${t.core}/users/${userId}/tier_history`);
    expect(res.status).toBe(200);
    return res.body.tier_history as { cause: string; reason: string; to_tier: string | null }[];
  };

  it('what-if: what a basket would earn today by the rules of a real purchase, writing nothing', async () => {
    await member();
    const rowsBefore = await history();
    const userBefore = await apiUser(t, story.userId);
    await page.getByLabel(/^Basket/).fill('300');
    await page.getByRole('button', { name: 'Show what it earns' }).click();
    await expect.poll(() => page.locator('#what-if-points').innerText()).toBe('800 points');
    expect(await page.locator('#what-if-base').innerText()).toBe('300');
    expect(await page.locator('#what-if-campaigns').innerText()).toBe('Big Basket Bonus +500');
    expect(await page.locator('#what-if-tier').innerText()).toBe('300');
    // It matures on 2 January: the points count toward 2027, where GOLD is 10,000 points away.
    expect(await page.locator('#what-if-progress').innerText()).toBe(
      'When it matures: 300 Tier Qualifying points in the next qualifying year; it leaves 9,700 points to GOLD.',
    );
    await page.screenshot({ path: shot('what-if'), fullPage: true });
    // Nothing was written.
    expect(await apiUser(t, story.userId)).toEqual(userBefore);
    await member();
    expect(await history()).toEqual(rowsBefore);

    // A real purchase of the same basket earns exactly that.
    await tick();
    const sent = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOSTON-01',
        client_id: 'pos-3',
        request_id: 'what-if-check',
        request_payload: {
          transaction_id: 'T-2001',
          open_time: '2026-12-03T09:30:00',
          items: [{ line_id: '1', item_id: 'TABLE', quantity: 1, unit_price: 300 }],
          payments: [
            {
              payment_id: 'P1',
              amount: 300,
              type: 'CARD',
              user_id: story.userId,
              user_id_type: 'SessionM_ID',
            },
          ],
        },
      },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    await member();
    expect((await history()).find((r) => r.kind === 'purchase')!.reason).toBe(
      'Purchase T-2001 earned 800 points (base 300; Big Basket Bonus +500)',
    );

    // Amounts a till could not send are refused with the POS API's own sentence.
    await page.goto(`${base}/console/members/${story.userId}/what-if?amount=20000000`);
    expect(await page.locator('#what_if_amount-error').innerText()).toBe(
      'request_payload.items[0].unit_price must be at most 10,000,000 (validation)',
    );
    await page.goto(`${base}/console/members/${story.userId}/what-if?amount=12.345`);
    expect(await page.locator('#what_if_amount-error').innerText()).toBe(
      'request_payload.items[0].unit_price must be an amount with at most two decimals (validation)',
    );
    await page.goto(`${base}/console/members/${story.userId}/what-if?amount=lots`);
    expect(await page.locator('#what_if_amount-error').innerText()).toMatch(/Enter the basket in dollars/);
  });

  it('moves the member to a tier with a reason, recorded under the agent (items 10, 12)', async () => {
    await member();
    expect((await apiUser(t, story.userId)).tier).toBe('SILVER');
    // No reason: refused on the form, nothing moved.
    await page.getByLabel('Tier level').selectOption({ label: 'GOLD' });
    await page.locator('#move_reason').fill('   ');
    await page.locator('#move_reason').evaluate((e) => e.removeAttribute('required'));
    await page.getByRole('button', { name: 'Move tier' }).click();
    await expect.poll(() => page.locator('#move_reason-error').innerText()).toMatch(/A reason is required/);
    expect(await page.locator('#move_reason').getAttribute('aria-invalid')).toBe('true');
    expect((await apiUser(t, story.userId)).tier).toBe('SILVER');

    await tick();
    await page.getByLabel('Tier level').selectOption({ label: 'GOLD' });
    await page.locator('#move_reason').fill('Service recovery: sofa delivered damaged');
    await page.getByRole('button', { name: 'Move tier' }).click();
    await expect.poll(notice).toMatch(/moved/);
    expect(await page.locator('#tier-badge').innerText()).toBe('GOLD');
    expect((await apiUser(t, story.userId)).tier).toBe('GOLD');
    const reason = `SILVER to GOLD: Moved by ${agent}: Service recovery: sofa delivered damaged`;
    expect((await history())[0]).toEqual({ kind: 'tier_change', reason });
    const moved = (await tierHistory(story.userId)).at(-1)!;
    expect(moved).toMatchObject({ cause: 'manual_move', to_tier: 'GOLD' });
    expect(moved.reason).toBe(`Moved by ${agent}: Service recovery: sofa delivered damaged`);
    await page.screenshot({ path: shot('tier-moved'), fullPage: true });
  });

  it("a tier move the API refuses shows the API's code and sentence and changes nothing", async () => {
    // An opted-out member cannot be moved (movement/move_user answers 400 validation).
    await tick();
    await member(story.otherUserId);
    await page.getByRole('button', { name: 'Opt out of the program' }).click();
    await expect.poll(notice).toMatch(/opted out/);
    await page.getByLabel('Tier level').selectOption({ label: 'SILVER' });
    await page.locator('#move_reason').fill('Loyal customer');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/tier') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Move tier' }).click(),
    ]);
    expect(answer.status()).toBe(400);
    expect(await page.locator('#level-error').innerText()).toBe(
      'the member is not enrolled; opt them in before moving their tier (validation)',
    );
    expect(await page.locator('#move_reason').inputValue()).toBe('Loyal customer');
    expect((await apiUser(t, story.otherUserId)).tier).toBe('UNENROLLED');
    // The opt-out names the agent in the tier history; the profile's creation names its app.
    const changes = await tierHistory(story.otherUserId);
    expect(changes.map((c) => c.reason)).toEqual([
      `Opted in to the program by app:${t.tenant.api_key}`,
      `Opted out of the program by ${agent}`,
    ]);
    await tick();
    await page.getByRole('button', { name: 'Opt in to the program' }).click();
    await expect.poll(notice).toMatch(/opted in/);
    expect((await history())[0]).toEqual({
      kind: 'tier_change',
      reason: `UNENROLLED to BASE: Opted in to the program by ${agent}`,
    });
  });

  it('edits contact details with the API’s validation, and records who changed which fields', async () => {
    await member();
    const before = await t.request('GET', `${t.core}/users/${story.userId}`);
    // Not an email: the Core update's own refusal, nothing saved.
    await page.locator('#email').fill('maya at example');
    await page.getByRole('button', { name: 'Save contact details' }).click();
    await expect
      .poll(() => page.locator('#email-error').innerText())
      .toBe('email is not a valid address (validation)');
    expect(await page.locator('#email').inputValue()).toBe('maya at example');
    // Another member's email: 409, as the API answers it.
    await page.locator('#email').fill('LIAM.garcia@example.com');
    const [taken] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/contact')),
      page.getByRole('button', { name: 'Save contact details' }).click(),
    ]);
    expect(taken.status()).toBe(409);
    expect(await page.locator('#email-error').innerText()).toBe(
      'Another user of this retailer already has this email. (validation)',
    );
    // A phone with too few digits.
    await page.locator('#email').fill('maya.okafor@example.com');
    await page.locator('#phone').fill('55-01');
    await page.getByRole('button', { name: 'Save contact details' }).click();
    await expect
      .poll(() => page.locator('#phone-error').innerText())
      .toMatch(/is not a phone number \(validation\)$/);
    const unchanged = await t.request('GET', `${t.core}/users/${story.userId}`);
    expect(unchanged.body.user).toEqual(before.body.user);

    await tick();
    await page.locator('#last_name').fill('Okafor-Reyes');
    await page.locator('#phone').fill('(617) 555-0199');
    await page.getByRole('button', { name: 'Save contact details' }).click();
    await expect.poll(notice).toMatch(/Contact details saved/);
    const after = (await t.request('GET', `${t.core}/users/${story.userId}`)).body.user;
    expect(after.last_name).toBe('Okafor-Reyes');
    expect(after.phone_numbers).toMatchObject([{ phone_number: '(617) 555-0199', phone_type: 'mobile' }]);
    expect(after.email).toBe('maya.okafor@example.com');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Maya Okafor-Reyes');
    expect((await history())[0]).toEqual({
      kind: 'profile_changed',
      reason: `Profile changed by ${agent}: last name, phone`,
    });
    // The new phone finds her.
    await page.goto(`${base}/console/search?q=${encodeURIComponent('617 555 0199')}`);
    await expect.poll(() => new URL(page.url()).pathname).toBe(`/console/members/${story.userId}`);
    // Saving the same values again changes nothing and records nothing.
    const rows = (await history()).length;
    await page.getByRole('button', { name: 'Save contact details' }).click();
    await expect.poll(notice).toMatch(/Nothing to save/);
    expect((await history()).length).toBe(rows);
    // An app's profile change is recorded under the app.
    await tick();
    const put = await t.request('PUT', `${t.core}/users/${story.userId}`, {
      body: { user: { first_name: 'Maya J.' } },
    });
    expect(put.status).toBe(200);
    await member();
    expect((await history())[0]).toEqual({
      kind: 'profile_changed',
      reason: `Profile changed by app:${t.tenant.api_key}: first name`,
    });
  });

  it('resends a gift card, recorded under the agent; a card of nobody is refused', async () => {
    await tick();
    await member();
    const row = page.locator('#gift-cards tbody tr').first();
    expect(await row.locator('th').innerText()).toBe('2026-Q3');
    await row.getByRole('button', { name: /Resend/ }).click();
    await expect.poll(notice).toMatch(/Gift card resent/);
    expect((await history())[0]).toEqual({
      kind: 'gift_card_resent',
      reason: `Gift card 2026-Q3 resent by ${agent}`,
    });
    // A forged card id: the service refuses it, nothing recorded.
    const rows = (await history()).length;
    const csrf = await page.locator('#tier-form input[name="_csrf"]').inputValue();
    const forged = await page.request.post(
      `${base}/console/members/${story.userId}/gift-cards/00000000-0000-7000-8000-000000000000/resend`,
      { form: { _csrf: csrf } },
    );
    expect(forged.status()).toBe(400);
    expect(await forged.text()).toMatch(/is not one of this member&#39;s|is not one of this member's/);
    await member();
    expect((await history()).length).toBe(rows);
  });

  it('an adjustment names the agent in the history and in the API’s audit log (item 10)', async () => {
    await tick();
    await member();
    await page.getByLabel('Points', { exact: true }).fill('25');
    await page.locator('#reason').fill('Goodwill: missing cushion');
    await page.getByRole('button', { name: 'Apply adjustment' }).click();
    await expect.poll(notice).toMatch(/Added 25 points/);
    const expected = `Agent adjustment by ${agent}: +25 points (Goodwill: missing cushion)`;
    expect((await history())[0]).toEqual({ kind: 'deposit', reason: expected });
    const log = await auditLog(story.userId);
    expect(log.find((r) => r.modification_type === 'deposit')!.reason).toBe(expected);
  });

  it('every action page fits a phone, and no page broke the Content-Security-Policy', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/console/members/${story.userId}/what-if?amount=120`);
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(0);
    await page.screenshot({ path: shot('phone'), fullPage: true });
    expect(pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
