import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';
import { MEMBER, STORY_START, apiUser, tellStory, type Story } from './console-story.js';

/**
 * A care agent's daily work in real headless Chromium (issue #18 items 9–12 and 10): one search box
 * and recently viewed members, a history one can read with a purchase view, the actions the API
 * can do, and every action named after the agent who signed in.
 */

const suite = chromiumAvailable()
  ? describeEachDatabase
  : () => describe.skip('console care in Chromium', () => {});

const AGENT = 'Dana Whitfield';

suite('Care agents in Chromium', (target) => {
  let t: TestApp;
  let story: Story;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let chidi: string;
  const pageErrors: string[] = [];
  const shot = (name: string) => artifactPath(`${target.name}-care-${name}.png`);

  beforeAll(async () => {
    t = await startTestApp(target, STORY_START);
    story = await tellStory(t);
    const other = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'chidi.okafor@example.com', first_name: 'Chidi', last_name: 'Okafor' } },
    });
    expect(other.status).toBe(200);
    chidi = other.body.user.id;
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
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

  const noSidewaysScroll = async (p: Page) =>
    expect(
      await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(0);

  it('a partial name lists the matches ranked, with name, email, tier and last activity', async () => {
    await page.getByRole('searchbox', { name: 'Search' }).fill('okaf');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#results-h').innerText()).toBe('2 members match “okaf”');
    const rows = await page.locator('#results tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute('data-user-id'),
        cells: [...tr.querySelectorAll('th, td')].map((c) => (c as HTMLElement).innerText.trim()),
      })),
    );
    // The member with recent activity first; one who never bought anything after.
    expect(rows.map((r) => r.id)).toEqual([story.userId, chidi]);
    const api = await apiUser(t, story.userId);
    expect(rows[0]!.cells.slice(0, 3)).toEqual(['Maya Okafor', MEMBER.email, api.tier]);
    // Her last activity is the big basket of 2 December, 14:30 in New York.
    expect(rows[0]!.cells[3]).toBe('Dec 2, 2026, 2:30 PM EST');
    expect(rows[1]!.cells.slice(0, 4)).toEqual([
      'Chidi Okafor',
      'chidi.okafor@example.com',
      'BASE',
      'none yet',
    ]);
    await noSidewaysScroll(page);
    await page.screenshot({ path: shot('search-results'), fullPage: true });

    // A partial email and a phone prefix find her too.
    for (const q of ['maya.oka', '617 555']) {
      await page.goto(`${base}/console/search?q=${encodeURIComponent(q)}`);
      expect(await page.locator('#results tbody tr').first().getAttribute('data-user-id'), q).toBe(
        story.userId,
      );
    }
  });

  it('the search page lists the members this agent opened, newest first', async () => {
    await page.goto(`${base}/console/members/${chidi}`);
    await page.goto(`${base}/console/members/${story.userId}`);
    await page.goto(`${base}/console`);
    const recent = await page.locator('#recent li a').allInnerTexts();
    expect(recent.slice(0, 2)).toEqual(['Maya Okafor', 'Chidi Okafor']);
    await page.locator('#recent li a').nth(1).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe(`/console/members/${chidi}`);
    await page.goto(`${base}/console`);
    expect((await page.locator('#recent li a').allInnerTexts()).slice(0, 2)).toEqual([
      'Chidi Okafor',
      'Maya Okafor',
    ]);
  });

  it('history: one row per purchase rollover naming the purchase; filters by kind and date (issue #18 item 11)', async () => {
    await page.goto(`${base}/console/members/${story.userId}`);
    const rows = () =>
      page.locator('#history tbody tr').evaluateAll((trs) =>
        trs.map((tr) => ({
          kind: tr.getAttribute('data-kind'),
          points: (tr.querySelector('.points') as HTMLElement).innerText.trim(),
          reason: (tr.querySelector('.reason') as HTMLElement).innerText
            .replace(/ View purchase$/, '')
            .trim(),
        })),
      );
    const all = await rows();
    const rollovers = all.filter((r) => r.kind === 'rollover');
    // T-1001, T-1002 and T-1003 have matured: one row each, whatever the number of accounts moved.
    expect(rollovers.map((r) => r.reason)).toEqual([
      'Escrow period ended for purchase T-1003: 225 points now spendable, 225 tier-qualifying',
      'Escrow period ended for purchase T-1002: 980 points now spendable, 980 tier-qualifying',
      'Escrow period ended for purchase T-1001: 1,240 points now spendable, 1,240 tier-qualifying',
    ]);
    expect(rollovers[0]!.points).toBe('Spendable +225 · Tier +225');

    await page.getByLabel('Kind', { exact: true }).selectOption('rollover');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(async () => (await rows()).map((r) => r.kind))
      .toEqual(['rollover', 'rollover', 'rollover']);

    // Purchases in November and December only (program-local dates).
    await page.getByLabel('Kind', { exact: true }).selectOption('purchase');
    await page.getByLabel('From', { exact: true }).fill('2026-11-01');
    await page.getByLabel('To', { exact: true }).fill('2026-12-31');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(async () => (await rows()).map((r) => r.reason))
      .toEqual([
        'Purchase T-1005 earned 765 points (base 265; Big Basket Bonus +500)',
        'Purchase T-1004 earned 840 points (base 420; Double Points Days +420)',
      ]);
    await page.screenshot({ path: shot('history-filtered'), fullPage: true });
    await page.getByRole('link', { name: 'Clear' }).click();
    await expect.poll(async () => (await rows()).length).toBe(all.length);
  });

  it('the purchase view shows items, store, points per account, campaigns, returns and maturity (issue #18 item 11)', async () => {
    await page.goto(`${base}/console/members/${story.userId}?kind=return`);
    await page.getByRole('link', { name: 'View purchase' }).first().click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Purchase T-1003');
    expect(await page.locator('#purchase-store').innerText()).toBe('BOSTON-01');
    // The vase came back: only the rug is left in the basket.
    expect(
      (await page.locator('#purchase-items tbody tr').allInnerTexts()).map((r) =>
        r.replace(/\s+/g, ' ').trim(),
      ),
    ).toEqual(['RUG-2X3 1 225.00 USD']);
    const events = await page
      .locator('#purchase-events tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-kind')));
    expect(events).toEqual(['purchase', 'return', 'rollover']);
    // Matured 30 days after 2 August, 12:40 in New York.
    expect(await page.locator('#purchase-matures').innerText()).toBe('Sep 1, 2026, 12:40 PM EDT');
    const accounts = (await page.locator('#purchase-accounts tbody tr').allInnerTexts()).map((r) =>
      r.replace(/\s+/g, ' ').trim(),
    );
    expect(accounts).toEqual([
      'ACME Spendable Escrow Account 0 0',
      'ACME Spendable Account +225 —',
      'ACME Tier-Qualifying Escrow Account 0 0',
      'ACME Tier Qualifying Account +225 —',
    ]);
    await noSidewaysScroll(page);
    await page.screenshot({ path: shot('purchase'), fullPage: true });

    // A campaign purchase lists its bonus.
    await page.goto(`${base}/console/members/${story.userId}?kind=purchase&from=2026-11-28&to=2026-11-28`);
    await page.getByRole('link', { name: 'View purchase' }).first().click();
    expect(await page.locator('#purchase-award').innerText()).toMatch(/Double Points Days\s+\+420/);
    expect(await page.locator('#purchase-matures').innerText()).toBe('Dec 28, 2026, 11:15 AM EST');
  });

  it('no page broke the Content-Security-Policy or logged an error', () => {
    expect(pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
