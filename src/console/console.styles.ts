import { createHash } from 'node:crypto';

/**
 * The console's one stylesheet, inlined in every page (the machines have no internet, so no
 * external asset of any kind). The Content-Security-Policy allows exactly this text by its hash,
 * so pages carry no `style` attributes: widths are SVG attributes instead.
 */
export const CONSOLE_CSS = `
:root {
  --ink: #1b2330; --muted: #556070; --line: #d5dbe3; --paper: #ffffff; --wash: #f3f5f8;
  --accent: #1f5f4a; --accent-ink: #ffffff; --link: #175fb0; --focus: #f2a900;
  --ok-bg: #e6f4ea; --ok-ink: #14532d; --bad-bg: #fdecea; --bad-ink: #8a1c12;
  --info-bg: #e8f0fb; --info-ink: #173f75;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  color: var(--ink); background: var(--wash); line-height: 1.45; font-size: 16px;
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
[tabindex]:focus-visible, summary:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px;
}
.skip { position: absolute; left: 0.5rem; top: -3rem; background: var(--paper); color: var(--ink);
  padding: 0.5rem 0.75rem; border: 2px solid var(--ink); border-radius: 6px; z-index: 10; }
.skip:focus { top: 0.5rem; }
.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1rem;
  padding: 0.6rem 1.25rem; background: var(--accent); color: var(--accent-ink); }
.brand { display: flex; align-items: center; gap: 0.5rem; font-weight: 700; font-size: 1.1rem;
  color: var(--accent-ink); text-decoration: none; }
.brand small { font-weight: 400; opacity: 0.85; }
.brand svg { width: 1.6rem; height: 1.6rem; }
.top nav { display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 1rem; }
.top nav a { color: var(--accent-ink); text-decoration: none; padding: 0.25rem 0; border-bottom: 2px solid transparent; }
.top nav a[aria-current="page"], .top nav a:hover { border-bottom-color: var(--accent-ink); }
.top nav form { margin: 0; }
.top nav button { background: transparent; color: var(--accent-ink); border: 1px solid var(--accent-ink);
  padding: 0.25rem 0.75rem; font-size: 0.9rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1.25rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: 0.25rem 0 0.25rem; }
h2 { font-size: 1.15rem; margin: 0 0 0.75rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.5rem; }
p { margin: 0.4rem 0; }
.muted { color: var(--muted); }
.ids { display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; margin: 0.25rem 0 1rem; padding: 0; list-style: none;
  color: var(--muted); font-size: 0.95rem; }
.ids strong { color: var(--ink); font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 0.9em; overflow-wrap: anywhere; }
.grid { display: grid; gap: 1rem; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); align-items: start; }
.grid > .wide { grid-column: 1 / -1; }
.grid > *, .stack > * { min-width: 0; }
.stack { display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr); }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.25rem; }
.standing { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: flex-start; justify-content: space-between; }
.standing .tier { flex: 1 1 18rem; }
.big { font-size: 2rem; font-weight: 700; line-height: 1.1; }
.label { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.badge { display: inline-block; padding: 0.15rem 0.7rem; border-radius: 999px; font-weight: 700;
  letter-spacing: 0.03em; border: 1px solid #8c96a3; background: #eef1f5; color: var(--ink); }
.badge.big-badge { font-size: 1.35rem; padding: 0.25rem 1rem; }
.tier-base { background: #e3ecf7; border-color: #7d9cc4; color: #163a66; }
.tier-bronze { background: #f0d9c2; border-color: #a86b32; color: #4d2a0c; }
.tier-silver { background: #e4e7eb; border-color: #8a939e; color: #2d333b; }
.tier-gold { background: #f8e08e; border-color: #b08a12; color: #4a3700; }
.tier-platinum { background: #dfe6ea; border-color: #5b6f7a; color: #1f2d35; }
.tier-unenrolled { background: var(--paper); border-style: dashed; color: var(--muted); }
.status { display: inline-block; padding: 0.05rem 0.55rem; border-radius: 999px; font-size: 0.85rem; font-weight: 600; }
.status-active { background: var(--ok-bg); color: var(--ok-ink); }
.status-scheduled { background: var(--info-bg); color: var(--info-ink); }
.status-ended, .status-void, .status-redeemed { background: #eceff3; color: var(--muted); }
.kind { display: inline-block; font-size: 0.8rem; font-weight: 600; padding: 0 0.45rem; border-radius: 4px;
  background: #eef1f5; color: var(--ink); white-space: nowrap; }
.kind-purchase { background: #e6f4ea; color: #14532d; }
.kind-return { background: #fdecea; color: #8a1c12; }
.kind-rollover { background: #e8f0fb; color: #173f75; }
.kind-adjustment { background: #fff4d6; color: #5c4100; }
.kind-cash-out { background: #efe7fb; color: #4b2582; }
.kind-tier-change { background: #e0f2f1; color: #0f4d47; }
.kind-campaign { background: #fde8f3; color: #7a1c4d; }
.kind-profile { background: #eceff3; color: #2f3a48; }
.error-code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 400; }
.what-if-result { margin-top: 0.75rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.progress { margin: 0.75rem 0 0.35rem; height: 0.9rem; border-radius: 999px; overflow: hidden; background: #dde3ea; }
.progress svg { display: block; width: 100%; height: 100%; }
.progress .fill { fill: var(--accent); }
.progress .track { fill: #dde3ea; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; margin: 0.75rem 0 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4rem; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); font-weight: 600; }
tbody th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.plus { color: #14532d; }
.minus { color: #8a1c12; }
.when { white-space: nowrap; }
form.inline { display: inline; }
fieldset { border: 0; padding: 0; margin: 0 0 0.75rem; }
legend { font-weight: 600; margin-bottom: 0.25rem; padding: 0; }
.field { margin: 0 0 0.75rem; }
.field > label { display: block; font-weight: 600; margin-bottom: 0.2rem; }
.field .hint { display: block; font-weight: 400; color: var(--muted); font-size: 0.9rem; }
.choice { display: inline-flex; align-items: center; gap: 0.35rem; margin-right: 1rem; }
input[type="text"], input[type="search"], input[type="password"], input:not([type]), select {
  font: inherit; width: 100%; padding: 0.5rem 0.6rem; border: 1px solid #8c96a3; border-radius: 6px;
  background: var(--paper); color: var(--ink); min-height: 2.6rem; }
input[aria-invalid="true"] { border-color: var(--bad-ink); border-width: 2px; }
.error-text { color: var(--bad-ink); font-weight: 600; margin-top: 0.25rem; display: block; }
button { font: inherit; font-weight: 600; cursor: pointer; border-radius: 6px; padding: 0.55rem 1.1rem;
  min-height: 2.6rem; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); }
button.secondary { background: var(--paper); color: var(--accent); }
button.danger { background: var(--paper); color: var(--bad-ink); border-color: var(--bad-ink); }
.search-form { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 0.75rem; align-items: end; margin-bottom: 1rem; }
.recent { margin: 0; padding-left: 1.25rem; }
.recent li { margin: 0.2rem 0; }
.recent .muted { margin-left: 0.5rem; font-size: 0.9rem; }
.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: end; margin-bottom: 0.75rem; }
.filters .field { margin: 0; min-width: 9rem; }
input[type="date"], input[type="number"], input[type="email"], input[type="tel"] {
  font: inherit; width: 100%; padding: 0.5rem 0.6rem; border: 1px solid #8c96a3; border-radius: 6px;
  background: var(--paper); color: var(--ink); min-height: 2.6rem; }
.search-form .field { margin: 0; }
.notice { border-radius: 8px; padding: 0.75rem 1rem; margin: 0 0 1rem; font-weight: 600; }
.notice.ok { background: var(--ok-bg); color: var(--ok-ink); }
.notice.bad { background: var(--bad-bg); color: var(--bad-ink); }
.notice.info { background: var(--info-bg); color: var(--info-ink); }
.pager { display: flex; gap: 1rem; align-items: center; justify-content: space-between; margin-top: 0.75rem; flex-wrap: wrap; }
.narrow { max-width: 28rem; margin: 2rem auto; }
footer { max-width: 72rem; margin: 0 auto; padding: 0.5rem 1.25rem 2rem; color: var(--muted); font-size: 0.9rem; }
@media (max-width: 760px) {
  main { padding: 0.75rem; }
  .grid { grid-template-columns: minmax(0, 1fr); }
  .search-form { grid-template-columns: minmax(0, 1fr); }
  .card { padding: 0.85rem; }
  .big { font-size: 1.6rem; }
  table.stacked thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stacked tr { display: block; border-bottom: 1px solid var(--line); padding: 0.35rem 0; }
  table.stacked td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: 0.2rem 0.25rem; text-align: right; }
  table.stacked td::before { content: attr(data-label); color: var(--muted); font-weight: 600; text-align: left; }
  table.stacked td.num { white-space: normal; }
}
@media (prefers-reduced-motion: no-preference) { .skip { transition: top 0.1s; } }
`;

/** The value for the CSP's `style-src`: this stylesheet and nothing else. */
export const CONSOLE_CSS_HASH = `'sha256-${createHash('sha256').update(CONSOLE_CSS).digest('base64')}'`;
