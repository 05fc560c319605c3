import { limitText } from '../domain/behaviours.js';
import type { Behaviour, BehaviourOutcome, ProgramDocument } from '../domain/program.js';
import { LIMIT_WINDOWS, type BehaviourForm, type BehavioursPage } from './behaviours.service.js';
import { csrfField, noticeBox, type Notice } from './console.views.js';
import { formatPoints } from './format.js';
import { html, raw, type Html } from './html.js';

/**
 * The behaviours page (issue #14 item 8): what each event does, a form to add one, and removal.
 * Pure: page data in, HTML out, no script.
 */

/** `250 points to ACME Spendable Account`, `Move to GOLD`, `Tag vip (expires after 30 days)`. */
export function outcomeText(o: BehaviourOutcome, program: ProgramDocument): string {
  const what = (() => {
    switch (o.type) {
      case 'award_points': {
        const account = program.point_accounts.find((a) => a.role === o.account);
        return `${formatPoints(o.points)} points to ${account?.name ?? o.account}`;
      }
      case 'move_tier':
        return `Move to ${o.tier_level}`;
      case 'add_tag':
        return o.ttl_seconds
          ? `Tag ${o.tag} (expires after ${formatDuration(o.ttl_seconds)})`
          : `Tag ${o.tag} (counter)`;
    }
  })();
  return o.limit ? `${what}, at most ${limitText(o.limit)}` : what;
}

function formatDuration(seconds: number): string {
  const days = seconds / 86_400;
  if (Number.isInteger(days)) return days === 1 ? '1 day' : `${formatPoints(days)} days`;
  return `${formatPoints(seconds)} seconds`;
}

function fieldError(form: BehaviourForm, field: string): { attrs: Html | string; text: Html | string } {
  if (form.error?.field !== field) return { attrs: '', text: '' };
  return {
    attrs: raw(` aria-invalid="true" aria-describedby="b-${field}-error"`),
    text: html`<span class="error-text" id="b-${field}-error">${form.error.message}</span>`,
  };
}

const selected = (on: boolean): Html | string => (on ? raw(' selected') : '');

function behaviourRow(b: Behaviour, p: BehavioursPage, csrf: string): Html {
  const campaign = b.campaign_id ? p.program.campaigns.find((c) => c.id === b.campaign_id) : undefined;
  return html`<tr data-behaviour="${b.id}">
    <th scope="row">
      <code>${b.event}</code>${b.name ? html`<br /><span class="muted">${b.name}</span>` : ''}
    </th>
    <td data-label="Fed by">${campaign ? html`Campaign ${campaign.name}` : 'trigger_user_event'}</td>
    <td data-label="Outcomes">
      ${
        b.outcomes.length
          ? html`<ul>
              ${b.outcomes.map((o) => html`<li>${outcomeText(o, p.program)}</li>`)}
            </ul>`
          : html`<span class="muted">None: the event is only saved</span>`
      }
    </td>
    <td data-label="Id" class="mono">${b.id}</td>
    <td data-label="Action">
      <form method="post" action="/console/behaviours/${b.id}/remove" class="inline">
        ${csrfField(csrf)}<button type="submit" class="danger" aria-label="Remove ${b.event}">Remove</button>
      </form>
    </td>
  </tr>`;
}

function addForm(p: BehavioursPage, csrf: string, form: BehaviourForm): Html {
  const f = (name: string) => fieldError(form, name);
  const [event, name, outcome, points, account, tierLevel, tag, ttl, limitMax, limitWindow] = [
    f('event'),
    f('name'),
    f('outcome'),
    f('points'),
    f('account'),
    f('tier_level'),
    f('tag'),
    f('ttl_days'),
    f('limit_max'),
    f('limit_window'),
  ];
  const type = form.outcome ?? 'award_points';
  const levels = [...p.program.tier_system.levels].sort((a, b) => a.rank - b.rank);
  const windowLabel: Record<string, string> = {
    lifetime: 'ever (per member)',
    day: 'per day',
    month: 'per month',
    year: 'per year',
  };
  return html`<section class="card" aria-labelledby="add-behaviour-h">
    <h2 id="add-behaviour-h">Add a behaviour</h2>
    <p class="muted">
      One outcome here; behaviours with several outcomes or a rolling window are written through
      <code>/admin/v1/behaviours</code>. Adding makes a new program version, in force from now.
    </p>
    <form method="post" action="/console/behaviours" id="behaviour-form">
      ${csrfField(csrf)}
      <div class="field">
        <label for="b-event"
          >Event
          <span class="hint">The event_lookup clients send, e.g. REGISTERS_ONLINE_ACCOUNT.</span></label
        >
        <input
          id="b-event"
          name="event"
          type="text"
          maxlength="128"
          autocomplete="off"
          required
          value="${form.event ?? ''}"
          ${event.attrs}
        />
        ${event.text}
      </div>
      <div class="field">
        <label for="b-name">Name <span class="hint">Optional, for people.</span></label>
        <input
          id="b-name"
          name="name"
          type="text"
          maxlength="100"
          autocomplete="off"
          value="${form.name ?? ''}"
          ${name.attrs}
        />
        ${name.text}
      </div>
      <div class="field">
        <label for="b-outcome">Outcome</label>
        <select id="b-outcome" name="outcome" ${outcome.attrs}>
          <option value="award_points" ${selected(type === 'award_points')}>Award points</option>
          <option value="move_tier" ${selected(type === 'move_tier')}>Move to a tier level</option>
          <option value="add_tag" ${selected(type === 'add_tag')}>Add a tag</option>
        </select>
        ${outcome.text}
      </div>
      <fieldset>
        <legend>Award points</legend>
        <div class="field">
          <label for="b-points">Points</label>
          <input
            id="b-points"
            name="points"
            type="text"
            inputmode="numeric"
            autocomplete="off"
            value="${form.points ?? ''}"
            ${points.attrs}
          />
          ${points.text}
        </div>
        <div class="field">
          <label for="b-account">Account</label>
          <select id="b-account" name="account" ${account.attrs}>
            ${p.program.point_accounts
              .filter((a) => a.role === 'spendable' || a.role === 'tier')
              .map(
                (a) =>
                  html`<option value="${a.role}" ${selected((form.account ?? 'spendable') === a.role)}>
                    ${a.name}
                  </option>`,
              )}
          </select>
          ${account.text}
        </div>
      </fieldset>
      <fieldset>
        <legend>Move to a tier level</legend>
        <div class="field">
          <label for="b-tier-level">Level</label>
          <select id="b-tier-level" name="tier_level" ${tierLevel.attrs}>
            ${levels.map((l) => html`<option value="${l.name}" ${selected(form.tier_level === l.name)}>${l.name}</option>`)}
          </select>
          ${tierLevel.text}
        </div>
      </fieldset>
      <fieldset>
        <legend>Add a tag</legend>
        <div class="field">
          <label for="b-tag">Tag</label>
          <input
            id="b-tag"
            name="tag"
            type="text"
            maxlength="100"
            autocomplete="off"
            value="${form.tag ?? ''}"
            ${tag.attrs}
          />
          ${tag.text}
        </div>
        <div class="field">
          <label for="b-ttl"
            >Expires after (days) <span class="hint">Empty: a counter tag that does not expire.</span></label
          >
          <input
            id="b-ttl"
            name="ttl_days"
            type="text"
            inputmode="numeric"
            autocomplete="off"
            value="${form.ttl_days ?? ''}"
            ${ttl.attrs}
          />
          ${ttl.text}
        </div>
      </fieldset>
      <fieldset>
        <legend>Limit per member</legend>
        <div class="field">
          <label for="b-limit-max">At most <span class="hint">Empty: no limit.</span></label>
          <input
            id="b-limit-max"
            name="limit_max"
            type="text"
            inputmode="numeric"
            autocomplete="off"
            value="${form.limit_max ?? ''}"
            ${limitMax.attrs}
          />
          ${limitMax.text}
        </div>
        <div class="field">
          <label for="b-limit-window">Counted</label>
          <select id="b-limit-window" name="limit_window" ${limitWindow.attrs}>
            ${LIMIT_WINDOWS.map(
              (w) =>
                html`<option value="${w}" ${selected((form.limit_window ?? 'lifetime') === w)}>
                  ${windowLabel[w]!}
                </option>`,
            )}
          </select>
          ${limitWindow.text}
        </div>
      </fieldset>
      <button type="submit">Add behaviour</button>
    </form>
  </section>`;
}

export function behavioursView(p: BehavioursPage, csrf: string, form: BehaviourForm, notice?: Notice): Html {
  return html`<h1>Behaviours</h1>
    <p class="muted">
      ${p.program.name} · version ${p.version}. An event sent to <code>trigger_user_event</code> (or a
      campaign's events) applies the outcomes of the behaviours of that name; an event no behaviour names is
      saved with no outcome.
    </p>
    ${noticeBox(notice)}
    <div class="grid">
      <section class="card wide" aria-labelledby="behaviours-h">
        <h2 id="behaviours-h">In force</h2>
        ${
          p.behaviours.length
            ? html`<div class="table-wrap">
                <table class="stacked" id="behaviours">
                  <thead>
                    <tr>
                      <th scope="col">Event</th>
                      <th scope="col">Fed by</th>
                      <th scope="col">Outcomes</th>
                      <th scope="col">Id</th>
                      <th scope="col">Action</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${p.behaviours.map((b) => behaviourRow(b, p, csrf))}
                  </tbody>
                </table>
              </div>`
            : html`<p class="muted" id="no-behaviours">
                No behaviours: every event is saved with no outcome.
              </p>`
        }
      </section>
      ${addForm(p, csrf, form)}
    </div>`;
}
