import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { EventRelay } from '../../src/events/relay.js';
import { describeEachDatabase } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';

/**
 * The console's webhooks page (issue #17) in real Chromium: the retailer's webhooks with their
 * pending and failed deliveries and the last failure a real receiver caused.
 */

const suite = chromiumAvailable()
  ? describeEachDatabase
  : () => describe.skip('webhooks page in Chromium', () => {});
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

suite('The webhooks page in Chromium', (target) => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const receiver = new Receiver();

  beforeAll(async () => {
    t = await startTestApp(target);
    await receiver.up();
    receiver.answer = () => 503;
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await receiver.down();
    await t?.close();
  });

  it('lists each webhook with its queue and its last failure', async () => {
    const created = await t.request('POST', '/admin/v1/webhooks', {
      auth: 'admin',
      body: { webhook: { url: receiver.url, events: ['member.created'], description: 'CRM sync' } },
    });
    expect(created.status).toBe(200);
    await t.request('POST', '/admin/v1/webhooks', {
      auth: 'admin',
      body: { webhook: { url: 'https://quiet.example.test/hook', events: ['gift_card.issued'] } },
    });
    expect(
      (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'WH-1' } } })).status,
    ).toBe(200);
    const relay = new EventRelay(t.db, { serverKey: TEST_GIFT_CARD_KEY, log: silent });
    await relay.tick();
    expect(receiver.got.map((g) => g.status)).toEqual([503]);

    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/console/login`);
    await page.getByLabel(/^Your name/).fill('Dana Whitfield');
    await page.getByLabel('Admin token').fill(t.tenant.admin_token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Webhooks' }).click();
    expect(new URL(page.url()).pathname).toBe('/console/webhooks');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Webhooks');
    const rows = page.getByRole('row');
    expect(await rows.count()).toBe(3);
    const failing = page.getByRole('row').filter({ hasText: receiver.url });
    const cells = await failing.getByRole('cell').allTextContents();
    expect(cells[0]).toContain('CRM sync');
    expect(cells[1]).toBe('member.created');
    expect(cells[2]!.trim()).toBe('1');
    expect(cells[3]!.trim()).toBe('0');
    expect(cells[4]).toContain('HTTP 503');
    const quiet = await page
      .getByRole('row')
      .filter({ hasText: 'quiet.example.test' })
      .getByRole('cell')
      .allTextContents();
    expect(quiet[4]!.trim()).toBe('none');
    await page.screenshot({ path: artifactPath(`${target.name}-webhooks.png`), fullPage: true });
  });
});
