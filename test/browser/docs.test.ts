import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { SimulatedClock } from '../../src/clock.js';
import { artifactPath, chromiumAvailable, launchChromium } from './chromium.js';

/**
 * The API reference at `/docs` laid out in real Chromium (issue #18 item 7): at a laptop's and a
 * desktop's width and on a phone, nothing scrolls sideways, no two boxes of the contents list
 * overlap, and every link of the contents lands on an anchor of the page. The page reads no
 * database, so it runs once, not per database.
 */

const suite = chromiumAvailable() ? describe : describe.skip;

/** A rectangle as the page measured it. */
type Box = { label: string; x: number; y: number; w: number; h: number };

const overlapping = (boxes: Box[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      // A pixel of shared border is rounding, not overprinting.
      const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (dx > 1 && dy > 1) out.push(`${a.label} / ${b.label}`);
    }
  }
  return out;
};

suite('/docs in Chromium', () => {
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    app = await buildApp({
      db: new Proxy({} as never, {
        get: () => {
          throw new Error('the reference needs no database');
        },
      }),
      clock: Object.create(SimulatedClock.prototype) as SimulatedClock,
      giftCardKey: randomBytes(32),
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  for (const [width, height] of [
    [1280, 900],
    [1920, 1080],
    [390, 844],
  ] as const) {
    it(`at ${width} px: no sideways scrolling, no overprinted contents, every contents link lands (bug: nav ul columns reached nested lists)`, async () => {
      const context = await browser.newContext({ viewport: { width, height } });
      const page = await context.newPage();
      await page.goto(`${base}/docs`);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);

      const links: Box[] = await page.locator('nav a').evaluateAll((as) =>
        as.map((a) => {
          const r = a.getBoundingClientRect();
          return { label: (a as HTMLElement).innerText, x: r.x, y: r.y, w: r.width, h: r.height };
        }),
      );
      expect(links.length).toBeGreaterThan(20);
      for (const l of links) {
        expect(l.w, l.label).toBeGreaterThan(0);
        expect(l.x + l.w, l.label).toBeLessThanOrEqual(width);
      }
      expect(overlapping(links)).toEqual([]);

      // The operations' boxes neither overlap each other nor stick out of the page.
      const ops: Box[] = await page.locator('section.op').evaluateAll((ss) =>
        ss.map((s) => {
          const r = s.getBoundingClientRect();
          return { label: s.id, x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height };
        }),
      );
      expect(overlapping(ops)).toEqual([]);
      for (const o of ops) expect(o.x + o.w, o.label).toBeLessThanOrEqual(width);

      const hrefs = await page.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
      const missing = await page.evaluate(
        (hs) => hs.filter((h) => !document.getElementById(decodeURIComponent(h.slice(1)))),
        hrefs,
      );
      expect(missing).toEqual([]);
      expect(hrefs.filter((h) => /#tag-tag-/.test(h))).toEqual([]);
      expect(hrefs).toContain('#tag-POS');

      await page.screenshot({ path: artifactPath(`docs-${width}.png`) });
      await context.close();
    });
  }
});
