import {
  downgradeOf,
  maintenanceThreshold,
  type Campaign,
  type CampaignAwardRule,
  type ProgramDocument,
  type TierDowngrade,
  type TierExpiry,
} from '../domain/program.js';
import {
  HISTORY_KINDS,
  MAX_MOVE_REASON_LENGTH,
  MAX_REASON_LENGTH,
  MAX_SEARCH_LENGTH,
  type HistoryEntry,
  type HistoryQuery,
  type PurchaseView,
  type MemberMatch,
  type MemberPage,
  type ProgramPage,
  type RecentMember,
} from './console.service.js';
import type { PurchasePreview } from '../purchases/purchase-preview.service.js';
import { MAX_AGENT_NAME_LENGTH } from './session.service.js';
import { CONSOLE_CSS } from './console.styles.js';
import {
  formatDate,
  formatEnd,
  formatKeepBy,
  formatInstant,
  formatMoney,
  formatPoints,
  formatSigned,
  progressPercent,
} from './format.js';
import { html, raw, type Html } from './html.js';

/**
 * The console's pages (issue #6): pure functions from page data to HTML. Semantic markup (landmarks,
 * headings, labelled controls, table headers), a skip link, and no script at all.
 */

/** What every page's frame needs to know. */
export interface Frame {
  title: string;
  /** Present when signed in: the navigation and the sign-out form. */
  session?: { csrfToken: string } | undefined;
  /** Which navigation entry is the current page. */
  current?: 'search' | 'program' | 'behaviours' | 'webhooks' | undefined;
  /** The footer's facts: program zone and "now". */
  footer?: { timeZone: string; now: Date; simulated: boolean; retailerName: string } | undefined;
}

export type Notice = { kind: 'ok' | 'bad' | 'info'; text: string };

const LOGO = raw(
  '<svg viewBox="0 0 32 32" aria-hidden="true" focusable="false">' +
    '<circle cx="16" cy="16" r="15" fill="#ffffff" opacity="0.15"/>' +
    '<path d="M16 27c-5-3-8-8-8-14 4 1 7 4 8 8 1-4 4-7 8-8 0 6-3 11-8 14z" fill="#ffffff"/>' +
    '<path d="M16 27V12" stroke="#1f5f4a" stroke-width="1.5"/></svg>',
);

/**
 * The stylesheet element, built outside the template so that formatting this file can never add
 * whitespace inside it: the CSP allows exactly CONSOLE_CSS by its hash.
 */
const STYLE = raw(`<style>${CONSOLE_CSS}</style>`);

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}" />`;

/** The HTML document around every page. */
export function layout(frame: Frame, body: Html): Html {
  const nav = frame.session
    ? html`<nav aria-label="Console">
        <a href="/console" ${frame.current === 'search' ? raw(' aria-current="page"') : ''}>Search</a>
        <a href="/console/program" ${frame.current === 'program' ? raw(' aria-current="page"') : ''}
          >Program</a
        >
        <a href="/console/behaviours" ${frame.current === 'behaviours' ? raw(' aria-current="page"') : ''}
          >Behaviours</a
        >
        <a href="/console/webhooks" ${frame.current === 'webhooks' ? raw(' aria-current="page"') : ''}
          >Webhooks</a
        >
        <form method="post" action="/console/logout">
          ${csrfField(frame.session.csrfToken)}<button type="submit">Sign out</button>
        </form>
      </nav>`
    : '';
  const f = frame.footer;
  const footer = f
    ? html`<footer>
        ${f.retailerName ? html`${f.retailerName} · ` : ''}Times are shown in ${f.timeZone}. Now:
        <time datetime="${f.now.toISOString()}">${formatInstant(f.now, f.timeZone)}</time>${
          f.simulated ? ' (simulated clock)' : ''
        }.
      </footer>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${frame.title} · Laurel console</title>
        <link rel="icon" href="data:," />
        ${STYLE}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/console"
            >${LOGO}<span>Laurel <small>customer care</small></span></a
          >
          ${nav}
        </header>
        <main id="main" tabindex="-1">${body}</main>
        ${footer}
      </body>
    </html> `;
}

export function noticeBox(n: Notice | undefined): Html | string {
  if (!n) return '';
  const role = n.kind === 'bad' ? 'alert' : 'status';
  return html`<p class="notice ${n.kind}" role="${role}">${n.text}</p>`;
}

// ---------------------------------------------------------------------------------------------
// Sign-in

export function loginPage(opts: {
  nonce: string;
  next: string;
  error?: string | undefined;
  /** The field the error is about: the agent's name or (by default) the token. */
  errorField?: 'agent' | 'token' | undefined;
  agent?: string | undefined;
  notice?: Notice | undefined;
}): Html {
  const error = opts.error;
  const agentError = error && opts.errorField === 'agent';
  const tokenError = error && opts.errorField !== 'agent';
  return layout(
    { title: 'Sign in' },
    html`<div class="narrow card">
      <h1>Sign in</h1>
      <p class="muted">
        Customer care console. Sign in with an admin token (it starts with <code>lat_</code>). An
        administrator creates one with <code>npx laurel tokens create --retailer ID</code>.
      </p>
      ${
        error
          ? html`<p class="notice bad" role="alert" id="${agentError ? 'agent-error' : 'token-error'}">
              ${error}
            </p>`
          : noticeBox(opts.notice)
      }
      <form method="post" action="/console/login">
        <input type="hidden" name="_login" value="${opts.nonce}" />
        <input type="hidden" name="next" value="${opts.next}" />
        <div class="field">
          <label for="agent"
            >Your name <span class="hint">Every change you make is recorded under it.</span></label
          >
          <input
            id="agent"
            name="agent"
            type="text"
            autocomplete="name"
            maxlength="${MAX_AGENT_NAME_LENGTH}"
            required
            value="${opts.agent ?? ''}"
            ${agentError ? raw('aria-invalid="true" aria-describedby="agent-error"') : ''}
          />
        </div>
        <div class="field">
          <label for="token">Admin token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck="false"
            required
            ${tokenError ? raw('aria-invalid="true" aria-describedby="token-error"') : ''}
          />
        </div>
        <button type="submit">Sign in</button>
      </form>
    </div>`,
  );
}

// ---------------------------------------------------------------------------------------------
// Search

export interface SearchView {
  query: string;
  /** The matches of `query`; absent before a search. */
  matches?: MemberMatch[] | undefined;
  recent: RecentMember[];
  timeZone: string;
  notice?: Notice | undefined;
}

const MATCHED_BY: Record<MemberMatch['matchedBy'], string> = {
  laurel_id: 'Laurel id',
  email: 'email',
  external_id: 'external id',
  phone: 'phone',
  name: 'name',
  email_prefix: 'start of email',
  name_prefix: 'start of name',
  external_id_prefix: 'start of external id',
  phone_prefix: 'start of phone',
};

function matchesTable(v: SearchView, matches: MemberMatch[]): Html {
  return html`<section class="card wide" aria-labelledby="results-h">
    <h2 id="results-h">${matches.length} member${matches.length === 1 ? '' : 's'} match “${v.query}”</h2>
    <div class="table-wrap">
      <table class="stacked" id="results">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Tier</th>
            <th scope="col">Last activity</th>
            <th scope="col">Matched on</th>
          </tr>
        </thead>
        <tbody>
          ${matches.map(
            (m) =>
              html`<tr data-user-id="${m.userId}">
                <th scope="row">
                  <a href="/console/members/${m.userId}">${m.name || m.email || m.externalId || m.userId}</a>
                </th>
                <td data-label="Email">${m.email ?? '—'}</td>
                <td data-label="Tier">${tierBadge(m.tier)}</td>
                <td data-label="Last activity" class="when">
                  ${m.lastActivityAt ? formatInstant(m.lastActivityAt, v.timeZone) : 'none yet'}
                </td>
                <td data-label="Matched on">${MATCHED_BY[m.matchedBy]}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

function recentList(v: SearchView): Html {
  return html`<section class="card wide" aria-labelledby="recent-h">
    <h2 id="recent-h">Recently viewed</h2>
    ${
      v.recent.length
        ? html`<ol class="recent" id="recent">
            ${v.recent.map(
              (r) =>
                html`<li>
                  <a href="/console/members/${r.userId}">${r.name || r.email || r.externalId || r.userId}</a>
                  ${r.email ? html`<span class="muted">${r.email}</span>` : ''}
                </li>`,
            )}
          </ol>`
        : html`<p class="muted">Members you open appear here.</p>`
    }
  </section>`;
}

export function searchForm(v: SearchView): Html {
  return html`<h1>Find a member</h1>
    <p class="muted">
      A name, the start of an email, a phone number in any format, an external id or a Laurel id.
    </p>
    ${noticeBox(v.notice)}
    <form class="card search-form" method="get" action="/console/search" role="search" aria-label="Members">
      <div class="field">
        <label for="q">Search</label>
        <input
          id="q"
          name="q"
          type="search"
          value="${v.query}"
          maxlength="${MAX_SEARCH_LENGTH}"
          required
          autocomplete="off"
          spellcheck="false"
        />
      </div>
      <button type="submit">Search</button>
    </form>
    <div class="grid">${v.matches?.length ? matchesTable(v, v.matches) : ''} ${recentList(v)}</div>`;
}

// ---------------------------------------------------------------------------------------------
// Member page

/** The CSS class of a tier badge: known metal names have colours, others the neutral badge. */
export const tierClass = (name: string): string => `tier-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

export const tierBadge = (name: string, big = false): Html =>
  html`<span class="badge ${tierClass(name)}${big ? ' big-badge' : ''}">${name}</span>`;

const displayName = (p: MemberPage): string => {
  const name = [p.user.first_name, p.user.last_name].filter(Boolean).join(' ');
  return name || p.user.email || p.user.external_id || p.user.id;
};

function standingCard(p: MemberPage): Html {
  const tz = p.program.time_zone;
  const t = p.tier;
  let progress: Html;
  if (!t.level) {
    progress = html`<p>Not enrolled: the member earns nothing until they opt in.</p>`;
  } else if (!t.next) {
    progress = html`<div
        class="progress"
        role="progressbar"
        aria-label="Progress to the next tier"
        aria-valuemin="0"
        aria-valuemax="100"
        aria-valuenow="100"
        aria-valuetext="Top tier"
      >
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
          <rect class="fill" width="100" height="10" />
        </svg>
      </div>
      <p id="to-next">
        <strong>Top tier</strong> · ${formatPoints(t.points)} Tier Qualifying points this year
      </p>`;
  } else {
    const target = t.next.threshold;
    const pct = progressPercent(t.points, target);
    const text = `${formatPoints(t.points)} of ${formatPoints(target)} Tier Qualifying points`;
    progress = html`<div
        class="progress"
        role="progressbar"
        aria-label="Progress to ${t.next.name}"
        aria-valuemin="0"
        aria-valuemax="${target}"
        aria-valuenow="${Math.min(t.points, target)}"
        aria-valuetext="${text}"
      >
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
          <rect class="track" width="100" height="10" />
          <rect class="fill" width="${pct}" height="10" />
        </svg>
      </div>
      <p id="to-next"><strong>${formatPoints(t.toNext ?? 0)} points to ${t.next.name}</strong> · ${text}</p>`;
  }
  const ends = !t.level ? '—' : t.endsAt ? formatEnd(t.endsAt, tz) : 'never';
  // Issue #20: what this period still needs to keep the tier at its next evaluation.
  const keep =
    t.level && t.endsAt && p.maintenance.maintenance_required_points > 0
      ? html`<p id="to-keep">
          <strong
            >${formatPoints(p.maintenance.maintenance_required_points)} points to keep ${t.level.name} by
            ${formatKeepBy(t.endsAt, tz)}</strong
          >
          · ${formatPoints(p.maintenance.maintenance_points)} of
          ${formatPoints(maintenanceThreshold(t.level))} this year
        </p>`
      : '';
  return html`<section class="card" aria-labelledby="standing-h">
    <h2 id="standing-h">Standing</h2>
    <div class="standing">
      <div class="tier">
        <div class="label">Tier</div>
        <p id="tier-badge">${tierBadge(p.loyalty.tier, true)}</p>
        ${progress} ${keep}
        <dl class="facts">
          <dt>Tier ends</dt>
          <dd id="tier-ends">${ends}</dd>
          ${
            t.level && t.enteredAt
              ? html`<dt>Reached</dt>
                  <dd>${formatInstant(t.enteredAt, tz)}</dd>`
              : ''
          }
          <dt>Tier system</dt>
          <dd>${p.loyalty.tier_system}</dd>
        </dl>
      </div>
      <div>
        <div class="label">Available points</div>
        <p class="big" id="available-points">${formatPoints(p.loyalty.available_points)}</p>
        <p class="muted">
          ${
            p.program.available_points === 'spendable_plus_escrow'
              ? 'Spendable plus points in escrow'
              : 'The Spendable Account'
          }
        </p>
      </div>
    </div>
  </section>`;
}

function accountsCard(p: MemberPage): Html {
  const rows = p.balances.details.map(
    (d) =>
      html`<tr data-account-id="${d.point_account_id}">
        <th scope="row">${d.account_name}</th>
        <td data-label="Group">${d.grouping_label || '—'}</td>
        <td class="num" data-label="Balance" data-balance>${formatPoints(d.available_balance)}</td>
        <td class="num" data-label="Lifetime">${formatPoints(d.life_time_value)}</td>
      </tr>`,
  );
  return html`<section class="card" aria-labelledby="accounts-h">
    <h2 id="accounts-h">Point accounts</h2>
    <div class="table-wrap">
      <table class="stacked" id="accounts">
        <thead>
          <tr>
            <th scope="col">Account</th>
            <th scope="col">Group</th>
            <th scope="col" class="num">Balance</th>
            <th scope="col" class="num">Lifetime</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
    </div>
  </section>`;
}

function pendingCard(p: MemberPage): Html {
  const tz = p.program.time_zone;
  const body = p.pending.length
    ? html`<div class="table-wrap">
        <table class="stacked" id="pending">
          <thead>
            <tr>
              <th scope="col">Purchase</th>
              <th scope="col">Bought</th>
              <th scope="col" class="num">Spendable</th>
              <th scope="col" class="num">Tier qualifying</th>
              <th scope="col">Releases</th>
            </tr>
          </thead>
          <tbody>
            ${p.pending.map(
              (l) =>
                html`<tr>
                  <th scope="row" class="mono">${l.transaction_id}</th>
                  <td data-label="Bought" class="when">${formatInstant(l.purchase_time, tz)}</td>
                  <td class="num" data-label="Spendable">${formatPoints(l.spendable)}</td>
                  <td class="num" data-label="Tier qualifying">${formatPoints(l.tier)}</td>
                  <td data-label="Releases" class="when">
                    <time datetime="${l.matures_at.toISOString()}">${formatInstant(l.matures_at, tz)}</time>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : html`<p class="muted">Nothing is waiting in escrow.</p>`;
  return html`<section class="card wide" aria-labelledby="pending-h">
    <h2 id="pending-h">Pending escrow</h2>
    <p class="muted">
      Points of recent purchases wait ${p.program.escrow_days} days (the return period), then roll over.
    </p>
    ${body}
  </section>`;
}

/** The short label of a history row's kind, and its CSS class. */
export function historyKind(e: HistoryEntry): { label: string; cls: string } {
  switch (e.kind) {
    case 'purchase':
      return { label: 'Purchase', cls: 'purchase' };
    case 'return':
      return { label: 'Return', cls: 'return' };
    case 'rollover':
      return { label: 'Rollover', cls: 'rollover' };
    case 'deposit':
      return { label: 'Adjustment', cls: 'adjustment' };
    case 'spend':
      return e.referenceType === 'Agent adjustment'
        ? { label: 'Adjustment', cls: 'adjustment' }
        : { label: 'Spend', cls: 'adjustment' };
    case 'cash_out':
      return { label: 'Cash-out', cls: 'cash-out' };
    case 'tier_change':
      return { label: 'Tier change', cls: 'tier-change' };
    case 'profile_changed':
      return { label: 'Profile', cls: 'profile' };
    case 'gift_card_resent':
      return { label: 'Gift card', cls: 'profile' };
  }
}

/** The member page's address with a history filter and page. */
export function historyHref(userId: string, q: HistoryQuery, page: number): string {
  const params = new URLSearchParams();
  if (q.kind) params.set('kind', q.kind);
  if (q.from) params.set('from', q.from);
  if (q.to) params.set('to', q.to);
  if (page > 1) params.set('page', String(page));
  const s = params.toString();
  return `/console/members/${userId}${s ? `?${s}` : ''}`;
}

/** `Spendable +420 · Tier +420`: what an event moved, settled and escrow accounts apart. */
function pointsText(e: HistoryEntry): string {
  if (e.kind === 'tier_change' || e.kind === 'profile_changed' || e.kind === 'gift_card_resent') return '—';
  const p = e.points;
  const parts: string[] = [];
  if (e.kind === 'rollover') {
    if (p.spendable) parts.push(`Spendable ${formatSigned(p.spendable)}`);
    if (p.tier) parts.push(`Tier ${formatSigned(p.tier)}`);
  } else {
    if (p.spendable_escrow) parts.push(`Escrow ${formatSigned(p.spendable_escrow)}`);
    if (p.spendable) parts.push(`Spendable ${formatSigned(p.spendable)}`);
    if (p.tier_escrow) parts.push(`Tier escrow ${formatSigned(p.tier_escrow)}`);
    if (p.tier) parts.push(`Tier ${formatSigned(p.tier)}`);
  }
  return parts.join(' · ') || '0';
}

function historyTable(entries: HistoryEntry[], tz: string, userId: string, id: string): Html {
  return html`<div class="table-wrap">
    <table class="stacked" id="${id}">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">What</th>
          <th scope="col">Points</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        ${entries.map((e) => {
          const k = historyKind(e);
          return html`<tr data-kind="${e.kind}">
            <td data-label="When" class="when">
              <time datetime="${e.at.toISOString()}">${formatInstant(e.at, tz)}</time>
            </td>
            <td data-label="What">
              <span class="kind kind-${k.cls}">${k.label}</span>${
                e.campaigns.length ? html` <span class="kind kind-campaign">Campaign bonus</span>` : ''
              }
            </td>
            <td data-label="Points" class="points">${pointsText(e)}</td>
            <td data-label="Reason" class="reason">
              ${e.reason}${
                e.purchaseId && id === 'history'
                  ? html` <a class="purchase-link" href="/console/members/${userId}/purchases/${e.purchaseId}"
                      >View purchase</a
                    >`
                  : ''
              }
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

function historyCard(p: MemberPage): Html {
  const tz = p.program.time_zone;
  const { entries, page, pages, total, query } = p.history;
  const filtered = Boolean(query.kind || query.from || query.to);
  const table = entries.length
    ? historyTable(entries, tz, p.user.id, 'history')
    : html`<p class="muted">
        ${filtered ? 'Nothing in the history matches the filter.' : 'No history yet.'}
      </p>`;
  const pager =
    pages > 1
      ? html`<nav class="pager" aria-label="History pages">
          ${
            page > 1
              ? html`<a href="${historyHref(p.user.id, query, page - 1)}#history-h" rel="prev">Newer</a>`
              : html`<span></span>`
          }
          <span id="history-page">Page ${page} of ${pages} · ${formatPoints(total)} rows</span>
          ${
            page < pages
              ? html`<a href="${historyHref(p.user.id, query, page + 1)}#history-h" rel="next">Older</a>`
              : html`<span></span>`
          }
        </nav>`
      : '';
  const kinds = Object.entries(HISTORY_KINDS).map(
    ([k, v]) => html`<option value="${k}" ${query.kind === k ? raw(' selected') : ''}>${v.label}</option>`,
  );
  return html`<section class="card wide" aria-labelledby="history-h">
    <h2 id="history-h">History</h2>
    <form class="filters" method="get" action="/console/members/${p.user.id}" aria-label="Filter the history">
      <div class="field">
        <label for="kind">Kind</label>
        <select id="kind" name="kind">
          <option value="">Everything</option>
          ${kinds}
        </select>
      </div>
      <div class="field">
        <label for="from">From</label>
        <input id="from" name="from" type="date" value="${query.from}" />
      </div>
      <div class="field">
        <label for="to">To</label>
        <input id="to" name="to" type="date" value="${query.to}" />
      </div>
      <button type="submit" class="secondary">Filter</button>
      ${filtered ? html`<a href="/console/members/${p.user.id}#history-h">Clear</a>` : ''}
    </form>
    ${table} ${pager}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Purchase view

export function purchasePage(v: PurchaseView): Html {
  const tz = v.program.time_zone;
  const currency = v.program.currency;
  const pu = v.purchase;
  const cents = (n: number) => formatMoney(n / 100, currency);
  const lines = v.basket.lines ?? [];
  const accountName = (role: string) => v.program.point_accounts.find((a) => a.role === role)?.name ?? role;
  const lot = (role: string) => v.lots.find((l) => l.account === role);
  const totals = { spendable: 0, spendable_escrow: 0, tier: 0, tier_escrow: 0 };
  for (const e of v.events) {
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += e.points[k];
  }
  const matures = v.lots[0]?.matures_at;
  const matured = matures ? matures <= v.now : false;
  return html`<p><a href="/console/members/${v.user.id}#history-h">← Back to the member</a></p>
    <h1>Purchase ${pu.transaction_id}</h1>
    <ul class="ids" aria-label="Purchase">
      <li>Bought <strong>${formatInstant(pu.purchase_time, tz)}</strong></li>
      <li>Store <strong id="purchase-store">${pu.store_id ?? '—'}</strong></li>
      <li>Revision <strong>${pu.revision}</strong>${v.basket.voided ? ' (voided)' : ''}</li>
      <li>
        ${matured ? 'Matured' : 'Matures'}
        <strong id="purchase-matures">${matures ? formatInstant(matures, tz) : '—'}</strong>
      </li>
    </ul>
    <div class="grid">
      <section class="card" aria-labelledby="items-h">
        <h2 id="items-h">Items</h2>
        <div class="table-wrap">
          <table class="stacked" id="purchase-items">
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col" class="num">Quantity</th>
                <th scope="col" class="num">Subtotal</th>
              </tr>
            </thead>
            <tbody>
              ${lines.map(
                (l) =>
                  html`<tr>
                    <th scope="row" class="mono">
                      ${l.item_id}${l.category ? html` <span class="muted">${l.category}</span>` : ''}
                    </th>
                    <td class="num" data-label="Quantity">${l.quantity}</td>
                    <td class="num" data-label="Subtotal">${cents(l.subtotal_cents)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        <p>
          Eligible spend <strong id="purchase-eligible">${cents(v.award.eligible_cents)}</strong>${
            v.basket.discount_cents ? html` after ${cents(v.basket.discount_cents)} of discounts` : ''
          }
        </p>
      </section>
      <section class="card" aria-labelledby="award-h">
        <h2 id="award-h">Points</h2>
        <dl class="facts" id="purchase-award">
          <dt>Base</dt>
          <dd>${formatPoints(v.award.base)}</dd>
          ${(v.award.campaigns ?? []).map(
            (c) =>
              html`<dt>${c.name}</dt>
                <dd>+${formatPoints(c.points)}${c.tier_qualifying ? ' (tier-qualifying)' : ''}</dd>`,
          )}
          <dt>Spendable award</dt>
          <dd>${formatPoints(v.award.spendable)}</dd>
          <dt>Tier-qualifying award</dt>
          <dd>${formatPoints(v.award.tier_qualifying)}</dd>
        </dl>
        <div class="table-wrap">
          <table class="stacked" id="purchase-accounts">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col" class="num">Net points</th>
                <th scope="col" class="num">Still in escrow</th>
              </tr>
            </thead>
            <tbody>
              ${(['spendable_escrow', 'spendable', 'tier_escrow', 'tier'] as const).map(
                (role) =>
                  html`<tr>
                    <th scope="row">${accountName(role)}</th>
                    <td class="num" data-label="Net points">${formatSigned(totals[role])}</td>
                    <td class="num" data-label="Still in escrow">
                      ${role.endsWith('escrow') ? formatPoints(lot(role)?.remaining ?? 0) : '—'}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card wide" aria-labelledby="events-h">
        <h2 id="events-h">What happened to it</h2>
        ${historyTable(v.events, tz, v.user.id, 'purchase-events')}
      </section>
    </div>`;
}

function giftCardsCard(p: MemberPage, csrf: string, error?: ActionError): Html {
  const tz = p.program.time_zone;
  const body = p.giftCards.length
    ? html`<div class="table-wrap">
        <table class="stacked" id="gift-cards">
          <thead>
            <tr>
              <th scope="col">Period</th>
              <th scope="col" class="num">Value</th>
              <th scope="col" class="num">Points</th>
              <th scope="col">Code</th>
              <th scope="col">Status</th>
              <th scope="col">Issued</th>
              <th scope="col"><span class="visually-hidden">Action</span></th>
            </tr>
          </thead>
          <tbody>
            ${p.giftCards.map(
              (g) =>
                html`<tr data-gift-card="${g.id}">
                  <th scope="row">${g.period}</th>
                  <td class="num" data-label="Value">${formatMoney(g.value, g.currency)}</td>
                  <td class="num" data-label="Points">${formatPoints(g.points)}</td>
                  <td data-label="Code" class="mono">${g.code}</td>
                  <td data-label="Status"><span class="status status-${g.status}">${g.status}</span></td>
                  <td data-label="Issued" class="when">${formatEnd(g.issued_at, tz)}</td>
                  <td data-label="Action">
                    ${
                      g.status === 'active'
                        ? html`<form
                            method="post"
                            action="/console/members/${p.user.id}/gift-cards/${g.id}/resend"
                            class="resend-form"
                          >
                            ${csrfField(csrf)}
                            <button
                              type="submit"
                              class="secondary"
                              aria-label="Resend the ${g.period} gift card"
                            >
                              Resend
                            </button>
                          </form>`
                        : ''
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : html`<p class="muted">No gift cards yet. Cash-outs happen at the end of each quarter.</p>`;
  return html`<section class="card wide" aria-labelledby="gift-h">
    <h2 id="gift-h">Gift cards</h2>
    ${error ? html`<p class="notice bad" role="alert" id="gift-card-error">${errorSentence(error)}</p>` : ''}
    <p class="muted">
      Codes are masked; Resend sends the card to the member again and records it in the history.
    </p>
    ${body}
  </section>`;
}

/** A refusal shown on a form: the sentence, and the API's error code when a service gave one. */
export interface ActionError {
  field: string;
  message: string;
  code?: string | undefined;
}

const errorSentence = (e: ActionError): Html =>
  html`${e.message}${e.code ? html` <span class="error-code">(${e.code})</span>` : ''}`;

function actionFieldError(
  error: ActionError | undefined,
  field: string,
): { attrs: Html | string; text: Html | string } {
  if (error?.field !== field) return { attrs: '', text: '' };
  return {
    attrs: raw(` aria-invalid="true" aria-describedby="${field}-error"`),
    text: html`<span class="error-text" id="${field}-error">${errorSentence(error)}</span>`,
  };
}

/** The state of the care agent's other forms (issue #18 item 12): values to show again, an error, a result. */
export interface MemberForms {
  tier?: { level?: string | undefined; reason?: string | undefined; error?: ActionError } | undefined;
  contact?:
    | {
        first_name?: string | undefined;
        last_name?: string | undefined;
        email?: string | undefined;
        phone?: string | undefined;
        error?: ActionError;
      }
    | undefined;
  whatIf?:
    | {
        amount?: string | undefined;
        store_id?: string | undefined;
        error?: ActionError;
        result?: PurchasePreview | undefined;
      }
    | undefined;
  giftCard?: { error?: ActionError } | undefined;
}

function tierMoveCard(p: MemberPage, csrf: string, f: MemberForms['tier'] = {}): Html {
  const level = actionFieldError(f.error, 'level');
  const reason = actionFieldError(f.error, 'move_reason');
  const levels = [...p.program.tier_system.levels].sort((a, b) => a.rank - b.rank);
  return html`<section class="card" aria-labelledby="tier-move-h">
    <h2 id="tier-move-h">Move tier</h2>
    <p class="muted">
      The member holds the level from now until its own expiry, whatever their points; the move and its reason
      are recorded under your name.
    </p>
    <form method="post" action="/console/members/${p.user.id}/tier" id="tier-form">
      ${csrfField(csrf)}
      <div class="field">
        <label for="level">Tier level</label>
        <select id="level" name="level" ${level.attrs}>
          <option value="">Choose a level</option>
          ${levels.map(
            (l) =>
              html`<option value="${l.id}" ${f.level === l.id ? raw(' selected') : ''}>${l.name}</option>`,
          )}
        </select>
        ${level.text}
      </div>
      <div class="field">
        <label for="move_reason">Reason <span class="hint">Required; shown in the tier history.</span></label>
        <input
          id="move_reason"
          name="reason"
          type="text"
          maxlength="${MAX_MOVE_REASON_LENGTH}"
          autocomplete="off"
          required
          value="${f.reason ?? ''}"
          ${reason.attrs}
        />
        ${reason.text}
      </div>
      <button type="submit">Move tier</button>
    </form>
  </section>`;
}

function contactCard(p: MemberPage, csrf: string, f: MemberForms['contact']): Html {
  const u = p.user;
  const v = f ?? {
    first_name: u.first_name ?? '',
    last_name: u.last_name ?? '',
    email: u.email ?? '',
    phone: u.phone_numbers[0]?.phone_number ?? '',
  };
  const input = (
    name: 'first_name' | 'last_name' | 'email' | 'phone',
    label: string,
    type: string,
    auto: string,
  ) => {
    const e = actionFieldError(f?.error, name);
    return html`<div class="field">
      <label for="${name}">${label}</label>
      <input
        id="${name}"
        name="${name}"
        type="${type}"
        autocomplete="${auto}"
        value="${v[name] ?? ''}"
        ${e.attrs}
      />
      ${e.text}
    </div>`;
  };
  return html`<section class="card" aria-labelledby="contact-h">
    <h2 id="contact-h">Contact details</h2>
    <form method="post" action="/console/members/${u.id}/contact" id="contact-form" novalidate>
      ${csrfField(csrf)} ${input('first_name', 'First name', 'text', 'off')}
      ${input('last_name', 'Last name', 'text', 'off')} ${input('email', 'Email', 'email', 'off')}
      ${input('phone', 'Phone', 'tel', 'off')}
      <p class="muted">An empty field is cleared. Checked as the Core API checks a profile update.</p>
      <button type="submit">Save contact details</button>
    </form>
  </section>`;
}

function whatIfCard(p: MemberPage, f: MemberForms['whatIf'] = {}): Html {
  const amount = actionFieldError(f.error, 'what_if_amount');
  const store = actionFieldError(f.error, 'what_if_store');
  const r = f.result;
  const tz = p.program.time_zone;
  const currency = p.program.currency;
  let result: Html | string = '';
  if (r) {
    const campaigns = r.award.campaigns.map((c) => `${c.name} +${formatPoints(c.points)}`);
    const total = r.award.spendable;
    const where = r.reaches
      ? html`<strong>reaches ${r.reaches.name}</strong>`
      : r.next
        ? html`leaves <strong>${formatPoints(r.to_next ?? 0)} points to ${r.next.name}</strong>`
        : html`keeps the top tier`;
    result = r.enrolled
      ? html`<div class="what-if-result" id="what-if-result" role="status">
          <p>
            A ${formatMoney(r.award.eligible_cents / 100, currency)} basket today earns
            <strong id="what-if-points">${formatPoints(total)} points</strong>.
          </p>
          <dl class="facts">
            <dt>Base</dt>
            <dd id="what-if-base">${formatPoints(r.award.base)}</dd>
            <dt>Campaigns</dt>
            <dd id="what-if-campaigns">
              ${campaigns.length ? campaigns.join(' · ') : 'none running for this member'}
            </dd>
            <dt>Tier-qualifying</dt>
            <dd id="what-if-tier">${formatPoints(r.award.tier_qualifying)}</dd>
            <dt>Matures</dt>
            <dd>${formatDate(r.matures_at, tz)}</dd>
          </dl>
          <p id="what-if-progress">
            When it matures: ${formatPoints(r.tier_points_after)} Tier Qualifying
            points${r.next_period ? ' in the next qualifying year' : ''}; it ${where}.
          </p>
          <p class="muted">Computed by the rules of a real purchase now; nothing was written.</p>
        </div>`
      : html`<p class="what-if-result" id="what-if-result" role="status">
          Not enrolled: a purchase earns nothing until the member opts in.
        </p>`;
  }
  return html`<section class="card" aria-labelledby="what-if-h">
    <h2 id="what-if-h">What if</h2>
    <form method="get" action="/console/members/${p.user.id}/what-if" id="what-if-form">
      <div class="field">
        <label for="what_if_amount">Basket (${currency})</label>
        <input
          id="what_if_amount"
          name="amount"
          type="text"
          inputmode="decimal"
          autocomplete="off"
          required
          value="${f.amount ?? ''}"
          ${amount.attrs}
        />
        ${amount.text}
      </div>
      <div class="field">
        <label for="what_if_store">Store id <span class="hint">Optional, for store campaigns.</span></label>
        <input
          id="what_if_store"
          name="store_id"
          type="text"
          autocomplete="off"
          value="${f.store_id ?? ''}"
          ${store.attrs}
        />
        ${store.text}
      </div>
      <button type="submit" class="secondary">Show what it earns</button>
    </form>
    ${result}
  </section>`;
}

/** The adjustment form's state: the values to show again and the field in error, if any. */
export interface AdjustForm {
  nonce: string;
  direction?: string | undefined;
  account?: string | undefined;
  amount?: string | undefined;
  reason?: string | undefined;
  error?: { field: string; message: string } | undefined;
}

function fieldError(form: AdjustForm, field: string): { attrs: Html | string; text: Html | string } {
  if (form.error?.field !== field) return { attrs: '', text: '' };
  return {
    attrs: raw(` aria-invalid="true" aria-describedby="${field}-error"`),
    text: html`<span class="error-text" id="${field}-error">${form.error.message}</span>`,
  };
}

function actionsCard(p: MemberPage, csrf: string, form: AdjustForm): Html {
  const action = `/console/members/${p.user.id}`;
  const credit = form.direction !== 'debit';
  const spendable = p.program.point_accounts.find((a) => a.role === 'spendable');
  const tierAccount = p.program.point_accounts.find((a) => a.role === 'tier');
  const direction = fieldError(form, 'direction');
  const accountError = fieldError(form, 'account');
  const amount = fieldError(form, 'amount');
  const reason = fieldError(form, 'reason');
  const enrolled = p.user.opted_in;
  return html`<section class="card" aria-labelledby="adjust-h">
    <h2 id="adjust-h">Adjust points</h2>
    <form method="post" action="${action}/adjustments" id="adjust-form">
      ${csrfField(csrf)}
      <input type="hidden" name="nonce" value="${form.nonce}" />
      <fieldset>
        <legend>Direction</legend>
        <label class="choice"
          ><input
            type="radio"
            name="direction"
            value="credit"
            ${credit ? raw(' checked') : ''}${direction.attrs}
          />
          Add points</label
        >
        <label class="choice"
          ><input
            type="radio"
            name="direction"
            value="debit"
            ${credit ? '' : raw(' checked')}${direction.attrs}
          />
          Remove points</label
        >
        ${direction.text}
      </fieldset>
      <div class="field">
        <label for="account">Account</label>
        <select id="account" name="account" ${accountError.attrs}>
          <option value="spendable" ${form.account !== 'tier' ? raw(' selected') : ''}>
            ${spendable?.name ?? 'Spendable'}
          </option>
          <option value="tier" ${form.account === 'tier' ? raw(' selected') : ''}>
            ${tierAccount?.name ?? 'Tier Qualifying'}
          </option>
        </select>
        ${accountError.text}
      </div>
      <div class="field">
        <label for="amount">Points</label>
        <input
          id="amount"
          name="amount"
          type="text"
          inputmode="numeric"
          autocomplete="off"
          required
          value="${form.amount ?? ''}"
          ${amount.attrs}
        />
        ${amount.text}
      </div>
      <div class="field">
        <label for="reason">Reason <span class="hint">Required; shown in the member's history.</span></label>
        <input
          id="reason"
          name="reason"
          type="text"
          maxlength="${MAX_REASON_LENGTH}"
          autocomplete="off"
          required
          value="${form.reason ?? ''}"
          ${reason.attrs}
        />
        ${reason.text}
      </div>
      <button type="submit">Apply adjustment</button>
    </form>
    <h3 id="enrollment-h">Enrollment</h3>
    <p id="enrollment-state">
      ${
        enrolled
          ? html`Opted
            in${p.user.opted_in_at ? html` since ${formatDate(p.user.opted_in_at, p.program.time_zone)}` : ''}.`
          : 'Opted out: the member earns nothing and holds no tier.'
      }
    </p>
    <form method="post" action="${action}/enrollment" id="enrollment-form">
      ${csrfField(csrf)}
      <input type="hidden" name="opted_in" value="${enrolled ? 'false' : 'true'}" />
      ${
        enrolled
          ? html`<button type="submit" class="danger">Opt out of the program</button>`
          : html`<button type="submit" class="secondary">Opt in to the program</button>`
      }
    </form>
  </section>`;
}

export function memberView(
  p: MemberPage,
  csrf: string,
  form: AdjustForm,
  notice?: Notice,
  forms: MemberForms = {},
): Html {
  const u = p.user;
  const phones = u.phone_numbers.map((n) => n.phone_number).join(', ');
  return html`<p><a href="/console">← New search</a></p>
    <h1>${displayName(p)}</h1>
    <ul class="ids" aria-label="Identifiers">
      ${u.email ? html`<li>Email <strong>${u.email}</strong></li>` : ''}
      ${phones ? html`<li>Phone <strong>${phones}</strong></li>` : ''}
      ${u.external_id ? html`<li>External id <strong class="mono">${u.external_id}</strong></li>` : ''}
      <li>Laurel id <strong class="mono" id="user-id">${u.id}</strong></li>
      ${u.city ? html`<li>${[u.city, u.state].filter(Boolean).join(', ')}</li>` : ''}
    </ul>
    ${noticeBox(notice)}
    <div class="grid">
      <div class="stack">${standingCard(p)} ${accountsCard(p)}</div>
      ${actionsCard(p, csrf, form)} ${whatIfCard(p, forms.whatIf)} ${tierMoveCard(p, csrf, forms.tier)}
      ${contactCard(p, csrf, forms.contact)} ${pendingCard(p)}
      ${giftCardsCard(p, csrf, forms.giftCard?.error)} ${historyCard(p)}
    </div>`;
}

// ---------------------------------------------------------------------------------------------
// Program page

export function expiryText(e: TierExpiry): string {
  if (e === 'never') return 'Never expires';
  if (e === 'end_of_following_calendar_year') return 'End of the following calendar year';
  const months = Number(e.slice('rolling_months:'.length));
  return `${months} month${months === 1 ? '' : 's'} after it is reached`;
}

/** The downgrade policy in words (issue #20). */
export function downgradeText(d: TierDowngrade): string {
  return d === 'one_level'
    ? 'Down one level at a time, never below the level still held'
    : 'Straight down to the level still held';
}

export function awardText(a: CampaignAwardRule, currency: string): string {
  switch (a.type) {
    case 'multiplier':
      return `×${a.factor} base points`;
    case 'threshold_bonus':
      return `+${formatPoints(a.points)} points on eligible spend of ${formatMoney(a.min_eligible_spend, currency)} or more`;
    case 'item_points': {
      const on = [
        a.item_ids?.length ? `items ${a.item_ids.join(', ')}` : '',
        a.categories?.length ? `categories ${a.categories.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      return `${a.points_per_unit} points per unit${on ? ` of ${on}` : ''}`;
    }
  }
}

function targetingText(c: Campaign): string {
  const t = c.targeting;
  const parts = [
    t?.tiers?.length ? `tiers ${t.tiers.join(', ')}` : '',
    t?.store_ids?.length ? `stores ${t.store_ids.join(', ')}` : '',
    t?.channels?.length ? `channels ${t.channels.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'Everyone';
}

/** A program-local `YYYY-MM-DD` as `Nov 27, 2026` (the date itself, no zone arithmetic). */
const localDay = (day: string): string => formatDate(new Date(`${day}T12:00:00Z`), 'UTC');

export function programView(p: ProgramPage): Html {
  const prog: ProgramDocument = p.program;
  const tz = prog.time_zone;
  const levels = [...prog.tier_system.levels].sort((a, b) => a.rank - b.rank);
  const roleText: Record<string, string> = {
    spendable: 'Spendable: points the member can use; cashes out each period',
    spendable_escrow: 'Spendable escrow: purchase points during the return period',
    tier: 'Tier qualifying: counts toward the tier this qualifying year',
    tier_escrow: 'Tier-qualifying escrow: tier points during the return period',
  };
  const rule = prog.cash_out;
  return html`<h1>Program</h1>
    <p class="muted">
      ${prog.name} · version
      ${p.version}${
        p.effectiveFrom
          ? html`, in force since ${formatInstant(p.effectiveFrom, tz)}`
          : ', in force since the start'
      }
      · time zone ${tz} · ${prog.currency}
    </p>
    <div class="grid">
      <section class="card" aria-labelledby="ladder-h">
        <h2 id="ladder-h">Tier ladder</h2>
        <p class="muted">
          ${prog.tier_system.name}. A tier is reached when the Tier Qualifying balance meets its threshold
          within the calendar year; moving down happens only when a tier expires.
        </p>
        <div class="table-wrap">
          <table class="stacked" id="ladder">
            <thead>
              <tr>
                <th scope="col">Level</th>
                <th scope="col" class="num">Rank</th>
                <th scope="col" class="num">Threshold</th>
                <th scope="col">Expiry</th>
              </tr>
            </thead>
            <tbody>
              ${levels.map(
                (l) =>
                  html`<tr>
                    <th scope="row">${tierBadge(l.name)}</th>
                    <td class="num" data-label="Rank">${l.rank}</td>
                    <td class="num" data-label="Threshold">${formatPoints(l.threshold)} points</td>
                    <td data-label="Expiry">${expiryText(l.expiry)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        <dl class="facts" id="tier-keeping">
          ${levels
            .filter((l) => l.expiry !== 'never')
            .map(
              (l) =>
                html`<dt>Keep ${l.name}</dt>
                  <dd>
                    ${formatPoints(maintenanceThreshold(l))} points in a calendar year (to enter:
                    ${formatPoints(l.threshold)})
                  </dd>`,
            )}
          <dt>When a tier expires</dt>
          <dd id="tier-downgrade">${downgradeText(downgradeOf(prog.tier_system))}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="earning-h">
        <h2 id="earning-h">Earning</h2>
        <dl class="facts">
          <dt>Base points</dt>
          <dd>${prog.earning.points_per_currency_unit} per whole ${prog.currency} of eligible spend</dd>
          <dt>Return period</dt>
          <dd>${prog.escrow_days} days in escrow, then roll over</dd>
          <dt>Available points</dt>
          <dd>
            ${
              prog.available_points === 'spendable_plus_escrow'
                ? 'Spendable plus escrow'
                : 'Spendable Account only'
            }
          </dd>
          <dt>Late returns</dt>
          <dd>Taken back from settled points, down to zero at most</dd>
        </dl>
      </section>
      <section class="card wide" aria-labelledby="accounts-h">
        <h2 id="accounts-h">Point accounts</h2>
        <div class="table-wrap">
          <table class="stacked">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Group</th>
                <th scope="col">Holds</th>
                <th scope="col">Id</th>
              </tr>
            </thead>
            <tbody>
              ${prog.point_accounts.map(
                (a) =>
                  html`<tr>
                    <th scope="row">${a.name}</th>
                    <td data-label="Group">${a.grouping_label || '—'}</td>
                    <td data-label="Holds">
                      ${roleText[a.role] ?? a.role}${a.precision === 2 ? ', with cents (precision 2)' : ''}
                    </td>
                    <td data-label="Id" class="mono">${a.id}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card wide" aria-labelledby="campaigns-h">
        <h2 id="campaigns-h">Campaigns</h2>
        ${
          p.campaigns.length
            ? html`<div class="table-wrap">
                <table class="stacked" id="campaigns">
                  <thead>
                    <tr>
                      <th scope="col">Campaign</th>
                      <th scope="col">Window</th>
                      <th scope="col">Award</th>
                      <th scope="col">For</th>
                      <th scope="col">Tier qualifying</th>
                      <th scope="col">Status</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${p.campaigns.map(
                      ({ campaign: c, status }) =>
                        html`<tr>
                          <th scope="row">${c.name}</th>
                          <td data-label="Window">
                            ${localDay(c.starts_on)} –
                            ${localDay(c.ends_on)}${
                              c.ended_at
                                ? html`<br /><span class="muted"
                                      >ended ${formatInstant(new Date(c.ended_at), tz)}</span
                                    >`
                                : ''
                            }
                          </td>
                          <td data-label="Award">
                            ${awardText(c.award, prog.currency)}${
                              c.max_awards_per_member
                                ? html`<br /><span class="muted"
                                      >at most ${c.max_awards_per_member} per member</span
                                    >`
                                : ''
                            }
                          </td>
                          <td data-label="For">${targetingText(c)}</td>
                          <td data-label="Tier qualifying">${c.tier_qualifying ? 'Yes' : 'No'}</td>
                          <td data-label="Status"><span class="status status-${status}">${status}</span></td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
            : html`<p class="muted">No campaigns.</p>`
        }
      </section>
      <section class="card wide" aria-labelledby="cashout-h">
        <h2 id="cashout-h">Cash-out calendar</h2>
        <p id="next-cash-out">
          <strong>Next cash-out: ${formatEnd(p.periods[0]!.ends_at, tz)}</strong> (${p.periods[0]!.period}).
          ${formatPoints(rule.points_per_currency_unit)} points = 1 ${prog.currency}; gift cards in multiples
          of ${formatMoney(rule.denomination, prog.currency)} (${formatPoints(p.pointsPerCard)} points); the
          rest stays in the Spendable Account. Points in escrow never cash out.
        </p>
        <div class="table-wrap">
          <table class="stacked" id="cash-out-periods">
            <thead>
              <tr>
                <th scope="col">Period</th>
                <th scope="col">From</th>
                <th scope="col">Cash-out</th>
              </tr>
            </thead>
            <tbody>
              ${p.periods.map(
                (c) =>
                  html`<tr>
                    <th scope="row">${c.period}</th>
                    <td data-label="From">${formatDate(c.starts_at, tz)}</td>
                    <td data-label="Cash-out">${formatEnd(c.ends_at, tz)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>`;
}

// ---------------------------------------------------------------------------------------------
// Errors

export function messageView(title: string, text: string, link?: { href: string; label: string }): Html {
  return html`<div class="narrow card">
    <h1>${title}</h1>
    <p>${text}</p>
    ${link ? html`<p><a href="${link.href}">${link.label}</a></p>` : ''}
  </div>`;
}

/** One row of the webhooks page: the webhook, its queue and its last failure (issue #17). */
export interface WebhookLine {
  id: string;
  url: string;
  events: string[];
  description?: string | undefined;
  created_at: Date;
  pending: number;
  failed: number;
  last_failure_at: Date | null;
  last_failure: string | null;
}

/** The retailer's webhooks with their last failures (issue #17, docs/events.md). */
export function webhooksView(lines: readonly WebhookLine[], timeZone: string): Html {
  const rows = lines.map(
    (w) =>
      html`<tr>
        <td>
          <code>${w.url}</code>${w.description ? html`<br /><span class="muted">${w.description}</span>` : ''}
        </td>
        <td>${w.events.join(', ')}</td>
        <td class="num">${w.pending}</td>
        <td class="num">${w.failed}</td>
        <td>
          ${
            w.last_failure_at
              ? html`<time datetime="${w.last_failure_at.toISOString()}"
                    >${formatInstant(w.last_failure_at, timeZone)}</time
                  >: ${w.last_failure ?? ''}`
              : html`<span class="muted">none</span>`
          }
        </td>
      </tr>`,
  );
  return html`<h1>Webhooks</h1>
    <p class="muted">
      Where this retailer's events are sent (docs/events.md). Create and delete them with the admin API
      (<code>/admin/v1/webhooks</code>); failed deliveries can be replayed there.
    </p>
    ${
      lines.length
        ? html`<table>
            <caption>
              Webhooks and their deliveries
            </caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Pending</th>
                <th scope="col">Failed</th>
                <th scope="col">Last failure</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
        : html`<p>No webhooks yet.</p>`
    }`;
}
