import { copyFileSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';
import { MEMBER, STORY_START, apiUser, tellStory, type Story } from './console-story.js';

/**
 * The customer-care console in real headless Chromium (issue #6): an agent signs in, finds a
 * member, reads their standing (and it matches the API), adjusts points, opts a member out and in,
 * and signs out. Screenshots land in test-artifacts/console/. `LAUREL_UPDATE_SCREENSHOTS=1` also
 * rewrites the README's screenshot, docs/images/console-member.png.
 */

const points = (text: string | null | undefined): number => Number((text ?? '').replace(/[^\d-]/g, ''));

const suite = chromiumAvailable()
  ? describeEachDatabase
  : () => describe.skip('console in Chromium', () => {});

suite('The console in Chromium', (target) => {
  let t: TestApp;
  let story: Story;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Console errors the page logged (a CSP violation would show here). */
  const pageErrors: string[] = [];
  const shot = (name: string) => artifactPath(`${target.name}-${name}.png`);

  beforeAll(async () => {
    t = await startTestApp(target, STORY_START);
    story = await tellStory(t);
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const signIn = async (p: Page) => {
    await p.getByLabel(/^Your name/).fill('Dana Whitfield');
    await p.getByLabel('Admin token').fill(t.tenant.admin_token);
    await p.getByRole('button', { name: 'Sign in' }).click();
  };

  it('a page asked for before signing in leads to the sign-in form, and back to it after', async () => {
    await page.goto(`${base}/console/program`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.getByLabel(/^Your name/).fill('Dana Whitfield');
    await page.getByLabel('Admin token').fill('lat_0000000000000000_' + 'x'.repeat(43));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/not accepted/);
    await signIn(page);
    expect(new URL(page.url()).pathname).toBe('/console/program');
    await page.goto(`${base}/console`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Find a member');
  });

  it('the session cookie is HttpOnly, SameSite=Strict and limited to /console; pages carry the security headers', async () => {
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'laurel_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', secure: false });
    const res = await page.goto(`${base}/console`);
    const h = res!.headers();
    expect(h['content-security-policy']).toMatch(/default-src 'none'/);
    expect(h['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['cache-control']).toBe('no-store');
  });

  it('one search box finds the member by phone, external id, email or name; a miss says so (issue #18 item 9)', async () => {
    for (const value of [
      '(617) 555-0142',
      MEMBER.external_id.toLowerCase(),
      'NOBODY@example.com',
      MEMBER.email.toUpperCase(),
      'Maya Okafor',
    ]) {
      await page.goto(`${base}/console`);
      await page.getByRole('searchbox', { name: 'Search' }).fill(value);
      await page.getByRole('button', { name: 'Search' }).click();
      if (value.startsWith('NOBODY')) {
        await expect
          .poll(() => page.getByRole('alert').innerText())
          .toBe('No member matches “NOBODY@example.com”. Check it and try again.');
        await page.screenshot({ path: shot('search-not-found'), fullPage: true });
      } else {
        expect(new URL(page.url()).pathname, value).toBe(`/console/members/${story.userId}`);
      }
    }
  });

  it("the member page shows the tier badge, the progress bar and balances that match the API's", async () => {
    const api = await apiUser(t, story.userId);
    expect(api.tier).toBe('SILVER');
    await page.goto(`${base}/console/members/${story.userId}`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Maya Okafor');

    expect(await page.locator('#tier-badge .badge').innerText()).toBe(api.tier);
    const bar = page.getByRole('progressbar');
    expect(await bar.getAttribute('aria-label')).toBe('Progress to GOLD');
    expect(Number(await bar.getAttribute('aria-valuenow'))).toBe(api.tier_points);
    expect(Number(await bar.getAttribute('aria-valuemax'))).toBe(10_000);
    expect(await page.locator('#to-next strong').innerText()).toBe(
      `${api.next_tier_points!.toLocaleString('en-US')} points to GOLD`,
    );
    // SILVER reached in August 2026 holds to the end of 2027 (program time).
    expect(api.tier_resets_at).toBe('2028-01-01 05:00:00');
    expect(await page.locator('#tier-ends').innerText()).toBe('end of Dec 31, 2027');
    expect(points(await page.locator('#available-points').innerText())).toBe(api.available_points);

    const shown = await page
      .locator('#accounts tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [
          r.getAttribute('data-account-id'),
          (r.querySelector('[data-balance]') as HTMLElement).innerText,
        ]),
      );
    const details = api.tier_details.point_account_balances.details;
    expect(shown.map(([id, text]) => [id, points(text)])).toEqual(
      details.map((d) => [d.point_account_id, d.available_balance]),
    );

    // Pending escrow: the two purchases still in their return period, adding up to the escrow balance.
    const pending = await page.locator('#pending tbody tr').evaluateAll((rows) =>
      rows.map((r) => ({
        purchase: (r.querySelector('th') as HTMLElement).innerText,
        spendable: (r.querySelectorAll('td')[1] as HTMLElement).innerText,
        releases: (r.querySelectorAll('td')[3] as HTMLElement).innerText,
      })),
    );
    expect(pending.map((p) => p.purchase)).toEqual(['T-1004', 'T-1005']);
    const escrow = details.find((d) => d.account_name === 'ACME Spendable Escrow Account')!.available_balance;
    expect(pending.reduce((n, p) => n + points(p.spendable), 0)).toBe(escrow);
    // Times in the program's zone: bought 11:15 New York time on 28 November, released 30 days later.
    expect(pending[0]!.releases).toBe('Dec 28, 2026, 11:15 AM EST');

    // Every history row says why in plain words, and every kind of change is there.
    const history = await page.locator('#history tbody tr').evaluateAll((rows) =>
      rows.map((r) => ({
        what: (r.querySelector('[data-label="What"]') as HTMLElement).innerText.trim(),
        reason: (r.querySelector('.reason') as HTMLElement).innerText.trim(),
      })),
    );
    // One row per event (issue #18 item 11): a purchase's rollover is one row, not four.
    expect(history.length).toBeGreaterThan(10);
    expect(history.length).toBeLessThanOrEqual(20);
    for (const row of history) expect(row.reason.length).toBeGreaterThan(5);
    const kinds = history.map((r) => r.what).join(' | ');
    for (const kind of [
      'Purchase',
      'Return',
      'Rollover',
      'Campaign bonus',
      'Cash-out',
      'Adjustment',
      'Tier change',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(history.map((r) => r.reason).join('\n')).toMatch(/Double Points Days \+420/);
    // Gift cards from the Q3 cash-out, the code masked.
    const card = await page.locator('#gift-cards tbody tr').first().innerText();
    expect(card).toMatch(/2026-Q3/);
    expect(card).toMatch(/20\.00 USD/);
    expect(card).toMatch(/•|\*/);

    await page.screenshot({ path: shot('member'), fullPage: true });
    // The README's picture: the top of the page, standing to gift cards.
    await page.setViewportSize({ width: 1280, height: 1180 });
    await page.screenshot({ path: shot('member-top') });
    await page.setViewportSize({ width: 1280, height: 900 });
    if (process.env.LAUREL_UPDATE_SCREENSHOTS && target.name === 'pglite') {
      mkdirSync('docs/images', { recursive: true });
      copyFileSync(shot('member-top'), 'docs/images/console-member.png');
    }
  });

  it('an agent adds points with a reason; the same form submitted twice applies once', async () => {
    const before = (await apiUser(t, story.userId)).available_points;
    await page.goto(`${base}/console/members/${story.userId}`);
    await page.getByLabel('Add points').check();
    await page.getByLabel('Points', { exact: true }).fill('150');
    await page.locator('#reason').fill('Goodwill: coupon did not scan');
    const form = page.locator('#adjust-form');
    const fields = {
      _csrf: await form.locator('[name=_csrf]').inputValue(),
      nonce: await form.locator('[name=nonce]').inputValue(),
    };
    await page.getByRole('button', { name: 'Apply adjustment' }).dblclick();
    await expect
      .poll(() => page.getByRole('status').first().innerText())
      .toMatch(/150 points|already applied/);
    expect((await apiUser(t, story.userId)).available_points).toBe(before + 150);

    // The same form once more (a reload of the POST, a third click): nothing more is added.
    const again = await page.request.post(`${base}/console/members/${story.userId}/adjustments`, {
      form: {
        ...fields,
        direction: 'credit',
        account: 'spendable',
        amount: '150',
        reason: 'Goodwill: coupon did not scan',
      },
    });
    expect(again.status()).toBe(200);
    expect(await again.text()).toMatch(/already applied/);
    expect((await apiUser(t, story.userId)).available_points).toBe(before + 150);

    await page.goto(`${base}/console/members/${story.userId}`);
    const first = page.locator('#history tbody tr').first();
    expect(await first.locator('[data-label="What"]').innerText()).toMatch(/Adjustment/);
    // The agent who signed in and their token are named (issue #18 item 10).
    const token = t.tenant.admin_token.split('_').slice(0, 2).join('_');
    expect(await first.locator('.reason').innerText()).toBe(
      `Agent adjustment by Dana Whitfield (console, token ${token}): +150 points (Goodwill: coupon did not scan)`,
    );
    expect(points(await page.locator('#available-points').innerText())).toBe(before + 150);
  });

  it('an agent removes points; more than the member has is refused and changes nothing', async () => {
    const before = (await apiUser(t, story.userId)).available_points;
    await page.goto(`${base}/console/members/${story.userId}`);
    await page.getByLabel('Remove points').check();
    await page.getByLabel('Points', { exact: true }).fill('100');
    await page.locator('#reason').fill('Reversal of a duplicate credit');
    await page.getByRole('button', { name: 'Apply adjustment' }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toMatch(/Removed 100 points/);
    expect((await apiUser(t, story.userId)).available_points).toBe(before - 100);

    await page.getByLabel('Remove points').check();
    await page.getByLabel('Points', { exact: true }).fill('1,000,000');
    await page.locator('#reason').fill('Too much');
    await page.getByRole('button', { name: 'Apply adjustment' }).click();
    await expect.poll(() => page.locator('#amount-error').innerText()).toMatch(/Not enough points/);
    expect(await page.getByLabel('Points', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: shot('adjust-refused'), fullPage: true });
    expect((await apiUser(t, story.userId)).available_points).toBe(before - 100);
  });

  it('a form without the session’s CSRF token is refused with 403 and changes nothing', async () => {
    const before = (await apiUser(t, story.userId)).available_points;
    const res = await page.request.post(`${base}/console/members/${story.userId}/adjustments`, {
      form: {
        _csrf: 'forged',
        nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
        direction: 'credit',
        amount: '5000',
        reason: 'x',
      },
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toMatch(/nothing was changed/);
    expect((await apiUser(t, story.userId)).available_points).toBe(before);
  });

  it('an agent opts a member out and back in', async () => {
    await page.goto(`${base}/console/members/${story.otherUserId}`);
    await page.getByRole('button', { name: 'Opt out of the program' }).click();
    await expect
      .poll(() => page.getByRole('status').first().innerText())
      .toBe('The member is now opted out.');
    let api = await apiUser(t, story.otherUserId);
    expect(api).toMatchObject({ opted_in: false, tier: 'UNENROLLED' });
    expect(await page.locator('#tier-badge .badge').innerText()).toBe('UNENROLLED');

    await t.setNow('2026-12-03T15:05:00Z');
    await page.getByRole('button', { name: 'Opt in to the program' }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toBe('The member is now opted in.');
    api = await apiUser(t, story.otherUserId);
    expect(api.opted_in).toBe(true);
    expect(await page.locator('#tier-badge .badge').innerText()).toBe(api.tier);
  });

  it('the program page shows the ladder, the accounts, the campaigns and the cash-out calendar', async () => {
    await page.goto(`${base}/console/program`);
    const ladder = await page.locator('#ladder tbody tr').allInnerTexts();
    expect(ladder.map((r) => r.replace(/\s+/g, ' ').trim())).toEqual([
      'BASE 1 0 points Never expires',
      'SILVER 2 2,000 points End of the following calendar year',
      'GOLD 3 10,000 points End of the following calendar year',
    ]);
    const campaigns = (await page.locator('#campaigns tbody tr').allInnerTexts()).map((r) =>
      r.replace(/\s+/g, ' '),
    );
    expect(campaigns[0]).toMatch(
      /Double Points Days[\s\S]*Nov 27, 2026 – Nov 30, 2026[\s\S]*×2 base points[\s\S]*ended/,
    );
    expect(campaigns[1]).toMatch(/Big Basket Bonus[\s\S]*250\.00 USD[\s\S]*active/);
    expect(await page.locator('#next-cash-out strong').innerText()).toBe(
      'Next cash-out: end of Dec 31, 2026',
    );
    await page.screenshot({ path: shot('program'), fullPage: true });
  });

  it('works by keyboard: the skip link comes first, then the search form', async () => {
    await page.goto(`${base}/console`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q');
    await page.keyboard.type(MEMBER.email);
    await page.keyboard.press('Enter');
    // Waits for the navigation itself: on a loaded machine it outlasts a one-second poll.
    await page.waitForURL((u) => u.pathname !== '/console');
    expect(new URL(page.url()).pathname).toBe(`/console/members/${story.userId}`);
  });

  it('reads on a phone: one column, no sideways scrolling', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await phone.addCookies(await context.cookies());
    const p = await phone.newPage();
    await p.goto(`${base}/console/members/${story.userId}`);
    await expect.poll(() => p.getByRole('heading', { level: 1 }).innerText()).toBe('Maya Okafor');
    const overflow = await p.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await p.screenshot({ path: shot('member-phone'), fullPage: true });
    await p.screenshot({ path: shot('member-phone-top') });
    await phone.close();
  });

  it('signing out ends the session: pages lead to the sign-in form again', async () => {
    await page.goto(`${base}/console/members/${story.userId}`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toBe('You have signed out.');
    expect((await context.cookies()).find((c) => c.name === 'laurel_console')).toBeUndefined();
    await page.goto(`${base}/console/members/${story.userId}`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    expect((await t.db.query('SELECT 1 FROM console_sessions')).length).toBe(0);
  });

  it('no page broke the Content-Security-Policy or logged an error', () => {
    // 4xx answers the tests asked for show up as "Failed to load resource"; nothing else may.
    expect(pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
