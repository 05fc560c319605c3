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

  it('no page broke the Content-Security-Policy or logged an error', () => {
    expect(pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
