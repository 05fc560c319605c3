import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { LaurelError } from '../errors.js';
import type { RouteDeps } from '../http/route-deps.js';
import { getProgramAt } from '../program/program.service.js';
import { findRetailer } from '../tenancy/tenancy.repository.js';
import { listWebhookRows, webhookHealth } from '../events/webhook.repository.js';
import {
  FormError,
  MAX_SEARCH_LENGTH,
  adjustPoints,
  editContact,
  moveTier,
  resendCard,
  whatIf,
  findMembers,
  memberPage,
  noteMemberViewed,
  parseAdjustment,
  programPage,
  recentMembers,
  purchaseView,
  setEnrollment,
  type HistoryQuery,
  type MemberMatch,
} from './console.service.js';
import { CONSOLE_CSS_HASH } from './console.styles.js';
import {
  FORM_FIELDS,
  addBehaviour,
  behavioursPage,
  parseBehaviourForm,
  removeBehaviour,
  type BehaviourForm,
} from './behaviours.service.js';
import { behavioursView } from './behaviours.views.js';
import {
  layout,
  loginPage,
  memberView,
  historyHref,
  messageView,
  programView,
  purchasePage,
  searchForm,
  type ActionError,
  type AdjustForm,
  type Frame,
  type MemberForms,
  type Notice,
  webhooksView,
} from './console.views.js';
import { formatPoints } from './format.js';
import type { Html } from './html.js';
import {
  agentNameOf,
  csrfMatches,
  isFormNonce,
  newFormNonce,
  resumeSession,
  sameSecret,
  signIn,
  signOut,
  type ConsoleSession,
} from './session.service.js';

/**
 * The customer-care console under `/console` (issue #6, docs/console.md): server-rendered HTML, a
 * server-side session opened with an admin token, a CSRF token on every form, and strict security
 * headers on every answer. The routes are HTML, not API, so they stay out of the OpenAPI document.
 */

export const SESSION_COOKIE = 'laurel_console';
/** The sign-in form's double-submit cookie: the form's hidden value must equal it. */
export const LOGIN_COOKIE = 'laurel_console_login';
const COOKIE_PATH = '/console';

/** Every console answer carries these (issue #6): no script, no framing, nothing cached or leaked. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    `default-src 'none'; style-src ${CONSOLE_CSS_HASH}; img-src 'self' data:; ` +
    `form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const NOTICES: Record<string, (points: string) => Notice> = {
  credited: (n) => ({ kind: 'ok', text: `Added ${n} points. The adjustment is in the history.` }),
  debited: (n) => ({ kind: 'ok', text: `Removed ${n} points. The adjustment is in the history.` }),
  duplicate: () => ({
    kind: 'info',
    text: 'That adjustment was already applied; submitting it again changed nothing.',
  }),
  opted_in: () => ({ kind: 'ok', text: 'The member is now opted in.' }),
  opted_out: () => ({ kind: 'ok', text: 'The member is now opted out.' }),
  tier_moved: () => ({ kind: 'ok', text: 'The member was moved. The move is in the tier history.' }),
  contact_saved: () => ({ kind: 'ok', text: 'Contact details saved. The change is in the history.' }),
  contact_unchanged: () => ({ kind: 'info', text: 'Nothing to save: the contact details were already so.' }),
  gift_card_resent: () => ({ kind: 'ok', text: 'Gift card resent. The resend is in the history.' }),
};

const actionError = (err: FormError): ActionError => ({
  field: err.field,
  message: err.message,
  code: err.code,
});

type Form = Record<string, string | undefined>;

/** The string fields of a parsed form (other shapes, e.g. a JSON body, yield only their strings). */
function formOf(body: unknown): Form {
  const out: Form = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

function cookie(request: FastifyRequest, name: string, value: string, maxAgeSeconds?: number): string {
  const parts = [`${name}=${value}`, 'HttpOnly', 'SameSite=Strict', `Path=${COOKIE_PATH}`];
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  if (request.protocol === 'https') parts.push('Secure');
  return parts.join('; ');
}

/** Where to go after sign-in: only a console path of this server, never another site. */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith('/console') || /[\\\s]/.test(next) || next.startsWith('//'))
    return '/console';
  try {
    const u = new URL(next, 'http://console.invalid');
    const inConsole = u.pathname === '/console' || u.pathname.startsWith('/console/');
    if (u.origin !== 'http://console.invalid' || !inConsole) return '/console';
    return `${u.pathname}${u.search}`;
  } catch {
    return '/console';
  }
}

const sendHtml = (reply: FastifyReply, status: number, page: Html): FastifyReply =>
  reply.code(status).type('text/html; charset=utf-8').send(page.value);

const redirect = (reply: FastifyReply, to: string): FastifyReply => reply.redirect(to, 303);

/** Sessions of requests that passed the sign-in check (a WeakMap: no global request decoration). */
const sessions = new WeakMap<FastifyRequest, ConsoleSession>();
const sessionOf = (request: FastifyRequest): ConsoleSession => {
  const s = sessions.get(request);
  if (!s) throw new Error('console route reached without a session');
  return s;
};

/** A form POST must come from this site: a foreign `Origin` is refused even with a valid token. */
function foreignOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  // Browsers send `Origin: null` on same-site posts under `Referrer-Policy: no-referrer`.
  if (!origin || origin === 'null') return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

export const consoleRoutes: FastifyPluginAsync<RouteDeps> = async (app, deps) => {
  const { db, clock, verifier, giftCardKey } = deps;

  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  // Forms post application/x-www-form-urlencoded; parsed here only, for the console's routes.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    return payload;
  });

  /** The frame of a signed-in page: navigation, and the program's zone and "now" in the footer. */
  async function frame(session: ConsoleSession, title: string, current?: Frame['current']): Promise<Frame> {
    const now = await clock.now();
    const [program, retailer] = await Promise.all([
      getProgramAt(db, session.retailerId, now),
      findRetailer(db, session.retailerId),
    ]);
    return {
      title,
      session,
      current,
      footer: {
        timeZone: program.time_zone,
        now,
        simulated: clock.simulated,
        retailerName: retailer?.name ?? '',
      },
    };
  }

  async function page(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    title: string,
    body: Html,
    current?: Frame['current'],
  ): Promise<FastifyReply> {
    const session = sessions.get(request);
    // An error page must render even when the frame's reads fail (the database is down).
    const f: Frame = session ? await frame(session, title, current).catch(() => ({ title })) : { title };
    return sendHtml(reply, status, layout(f, body));
  }

  app.setErrorHandler(async (err: Error & { statusCode?: number }, request, reply) => {
    if (err instanceof LaurelError && err.code === 'user_not_found') {
      return page(
        request,
        reply,
        404,
        'No such member',
        messageView('No such member', 'No member of this retailer has that id.', {
          href: '/console',
          label: 'Search for a member',
        }),
      );
    }
    const status = err instanceof LaurelError ? err.status : (err.statusCode ?? 500);
    if (status < 500) {
      return sendHtml(
        reply,
        status,
        layout({ title: 'Request refused' }, messageView('Request refused', err.message)),
      );
    }
    request.log.error({ err }, 'console error');
    return sendHtml(
      reply,
      500,
      layout(
        { title: 'Something went wrong' },
        messageView('Something went wrong', 'The page could not be shown. Try again in a moment.', {
          href: '/console',
          label: 'Back to search',
        }),
      ),
    );
  });
  app.setNotFoundHandler((_request, reply) =>
    sendHtml(
      reply,
      404,
      layout(
        { title: 'Not found' },
        messageView('Not found', 'There is no such console page.', {
          href: '/console',
          label: 'Back to search',
        }),
      ),
    ),
  );

  // --- Sign-in: the only pages open without a session --------------------------------------

  function showLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    next: string,
    error?: string,
    notice?: Notice,
    form: { agent?: string | undefined; errorField?: 'agent' | 'token' } = {},
  ): FastifyReply {
    // Another tab's sign-in form stays valid: the cookie it matches is kept, not replaced.
    const existing = parseCookies(request.headers.cookie)[LOGIN_COOKIE];
    const nonce = isFormNonce(existing) ? existing : newFormNonce();
    reply.header('set-cookie', cookie(request, LOGIN_COOKIE, nonce, 3600));
    return sendHtml(reply, status, loginPage({ nonce, next, error, notice, ...form }));
  }

  app.get('/login', async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const next = safeNext(query.next);
    const cookies = parseCookies(request.headers.cookie);
    if (await resumeSession(db, cookies[SESSION_COOKIE], new Date())) return redirect(reply, next);
    const notice: Notice | undefined =
      query.signed_out === '1' ? { kind: 'info', text: 'You have signed out.' } : undefined;
    return showLogin(request, reply, 200, next, undefined, notice);
  });

  app.post('/login', async (request, reply) => {
    const form = formOf(request.body);
    const next = safeNext(form.next);
    const cookies = parseCookies(request.headers.cookie);
    const expected = cookies[LOGIN_COOKIE];
    if (foreignOrigin(request) || !expected || !form._login || !sameSecret(expected, form._login)) {
      return showLogin(request, reply, 403, next, 'The sign-in form expired. Enter the token again.');
    }
    const agent = agentNameOf(form.agent);
    if (!agent) {
      return showLogin(
        request,
        reply,
        400,
        next,
        'Enter your name (up to 60 characters): the changes you make are recorded under it.',
        undefined,
        { agent: form.agent, errorField: 'agent' },
      );
    }
    const token = (form.token ?? '').trim();
    const result = token
      ? await signIn(db, verifier, token, agent, request.ip, new Date())
      : { ok: false as const, retryAfter: 0 };
    if (!result.ok && result.retryAfter) {
      reply.header('retry-after', String(result.retryAfter));
      return showLogin(
        request,
        reply,
        429,
        next,
        `Too many failed sign-ins; wait ${result.retryAfter} seconds and try again.`,
        undefined,
        { agent },
      );
    }
    if (!result.ok) {
      return showLogin(
        request,
        reply,
        401,
        next,
        'That admin token was not accepted: it is mistyped, unknown or revoked.',
        undefined,
        { agent },
      );
    }
    reply.header('set-cookie', [
      cookie(request, SESSION_COOKIE, result.sessionId),
      cookie(request, LOGIN_COOKIE, '', 0),
    ]);
    return redirect(reply, next);
  });

  // --- Everything else needs a live session, and every POST a valid CSRF token ---------------

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const cookies = parseCookies(request.headers.cookie);
      const session = await resumeSession(db, cookies[SESSION_COOKIE], new Date());
      if (!session) {
        const url = request.url;
        const to =
          request.method === 'GET' ? `/console/login?next=${encodeURIComponent(url)}` : '/console/login';
        if (cookies[SESSION_COOKIE]) reply.header('set-cookie', cookie(request, SESSION_COOKIE, '', 0));
        return redirect(reply, to);
      }
      sessions.set(request, session);
    });
    scope.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST') return;
      const session = sessionOf(request);
      if (foreignOrigin(request) || !csrfMatches(session, formOf(request.body)._csrf)) {
        return page(
          request,
          reply,
          403,
          'Form refused',
          messageView(
            'Form refused',
            'This form could not be verified as coming from your console session, so nothing was changed. ' +
              'Reload the page and try again.',
            { href: '/console', label: 'Back to search' },
          ),
        );
      }
    });

    scope.post('/logout', async (request, reply) => {
      await signOut(db, parseCookies(request.headers.cookie)[SESSION_COOKIE]);
      reply.header('set-cookie', cookie(request, SESSION_COOKIE, '', 0));
      return redirect(reply, '/console/login?signed_out=1');
    });

    async function showSearch(
      request: FastifyRequest,
      reply: FastifyReply,
      status: number,
      view: { query: string; matches?: MemberMatch[]; notice?: Notice },
    ) {
      const session = sessionOf(request);
      const [recent, program] = await Promise.all([
        recentMembers(db, session),
        getProgramAt(db, session.retailerId, await clock.now()),
      ]);
      const body = searchForm({ ...view, recent, timeZone: program.time_zone });
      return page(request, reply, status, 'Search', body, 'search');
    }

    scope.get('/', async (request, reply) => showSearch(request, reply, 200, { query: '' }));

    scope.get('/search', async (request, reply) => {
      const session = sessionOf(request);
      const q = request.query as Record<string, string | undefined>;
      const query = (q.q ?? '').trim().slice(0, MAX_SEARCH_LENGTH);
      if (!query) {
        return showSearch(request, reply, 400, {
          query,
          notice: { kind: 'bad', text: 'Enter a name, email, phone, external id or Laurel id.' },
        });
      }
      const matches = await findMembers(db, session.retailerId, query, await clock.now());
      // One exact match (an id, a whole email, external id, phone or name) opens the member at once.
      if (matches.length === 1 && !matches[0]!.matchedBy.endsWith('_prefix')) {
        return redirect(reply, `/console/members/${matches[0]!.userId}`);
      }
      if (!matches.length) {
        return showSearch(request, reply, 404, {
          query,
          notice: { kind: 'bad', text: `No member matches “${query}”. Check it and try again.` },
        });
      }
      return showSearch(request, reply, 200, { query, matches });
    });

    async function showMember(
      request: FastifyRequest,
      reply: FastifyReply,
      userId: string,
      status: number,
      pageNo: number,
      form: AdjustForm,
      notice?: Notice,
      filter?: HistoryQuery,
      forms: MemberForms = {},
    ) {
      const session = sessionOf(request);
      const data = await memberPage(
        db,
        session.retailerId,
        userId,
        await clock.now(),
        giftCardKey,
        pageNo,
        filter,
      );
      await noteMemberViewed(db, session, data.user.id);
      if (pageNo > data.history.pages) {
        return redirect(reply, `${historyHref(data.user.id, data.history.query, data.history.pages)}`);
      }
      const name = [data.user.first_name, data.user.last_name].filter(Boolean).join(' ') || 'Member';
      return page(request, reply, status, name, memberView(data, session.csrfToken, form, notice, forms));
    }

    scope.get('/members/:user_id', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const q = request.query as Record<string, string | undefined>;
      const pageNo = /^\d{1,6}$/.test(q.page ?? '') ? Math.max(1, Number(q.page)) : 1;
      const points = /^\d{1,9}$/.test(q.points ?? '') ? formatPoints(Number(q.points)) : '';
      const notice = q.notice && Object.hasOwn(NOTICES, q.notice) ? NOTICES[q.notice]!(points) : undefined;
      const filter: HistoryQuery = { kind: q.kind ?? '', from: q.from ?? '', to: q.to ?? '' };
      return showMember(request, reply, user_id, 200, pageNo, { nonce: newFormNonce() }, notice, filter);
    });

    scope.get('/members/:user_id/purchases/:purchase_id', async (request, reply) => {
      const session = sessionOf(request);
      const { user_id, purchase_id } = request.params as { user_id: string; purchase_id: string };
      const view = await purchaseView(db, session.retailerId, user_id, purchase_id, await clock.now());
      if (!view) {
        return page(
          request,
          reply,
          404,
          'No such purchase',
          messageView('No such purchase', 'This member has no purchase with that id.', {
            href: `/console/members/${encodeURIComponent(user_id)}`,
            label: 'Back to the member',
          }),
        );
      }
      return page(request, reply, 200, `Purchase ${view.purchase.transaction_id}`, purchasePage(view));
    });

    scope.post('/members/:user_id/adjustments', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const form = formOf(request.body);
      const shown: AdjustForm = {
        nonce: isFormNonce(form.nonce) ? form.nonce : newFormNonce(),
        direction: form.direction,
        account: form.account,
        amount: form.amount,
        reason: form.reason,
      };
      try {
        if (!isFormNonce(form.nonce)) {
          throw new FormError('amount', 'The form was incomplete; check it and submit again.');
        }
        const input = parseAdjustment(form, form.nonce);
        const { applied } = await adjustPoints(db, sessionOf(request), user_id, input, await clock.now());
        const notice = applied ? (input.direction === 'credit' ? 'credited' : 'debited') : 'duplicate';
        return redirect(
          reply,
          `/console/members/${encodeURIComponent(user_id)}?notice=${notice}&points=${input.amount}`,
        );
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showMember(request, reply, user_id, 400, 1, {
          ...shown,
          error: { field: err.field, message: err.message },
        });
      }
    });

    scope.post('/members/:user_id/enrollment', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const wanted = formOf(request.body).opted_in;
      if (wanted !== 'true' && wanted !== 'false') {
        return showMember(
          request,
          reply,
          user_id,
          400,
          1,
          { nonce: newFormNonce() },
          {
            kind: 'bad',
            text: 'Choose opt in or opt out.',
          },
        );
      }
      const session = sessionOf(request);
      const user = await setEnrollment(db, session, user_id, wanted === 'true', await clock.now());
      return redirect(
        reply,
        `/console/members/${user.id}?notice=${user.opted_in ? 'opted_in' : 'opted_out'}`,
      );
    });

    // --- The care agent's other actions (issue #18 item 12): each through the API's own service ---

    const memberHref = (userId: string, notice: string) =>
      `/console/members/${encodeURIComponent(userId)}?notice=${notice}`;
    const fresh = (): AdjustForm => ({ nonce: newFormNonce() });

    scope.post('/members/:user_id/tier', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const form = formOf(request.body);
      try {
        await moveTier(db, sessionOf(request), user_id, form, await clock.now());
        return redirect(reply, memberHref(user_id, 'tier_moved'));
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showMember(request, reply, user_id, err.status, 1, fresh(), undefined, undefined, {
          tier: { level: form.level, reason: form.reason, error: actionError(err) },
        });
      }
    });

    scope.post('/members/:user_id/contact', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const form = formOf(request.body);
      try {
        const { changed } = await editContact(db, sessionOf(request), user_id, form, await clock.now());
        return redirect(reply, memberHref(user_id, changed ? 'contact_saved' : 'contact_unchanged'));
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showMember(request, reply, user_id, err.status, 1, fresh(), undefined, undefined, {
          contact: {
            first_name: form.first_name,
            last_name: form.last_name,
            email: form.email,
            phone: form.phone,
            error: actionError(err),
          },
        });
      }
    });

    // A GET: the what-if panel writes nothing, so it needs no CSRF token and its address can be shared.
    scope.get('/members/:user_id/what-if', async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      const q = request.query as Record<string, string | undefined>;
      const shown = { amount: q.amount, store_id: q.store_id };
      try {
        const result = await whatIf(db, sessionOf(request).retailerId, user_id, q, await clock.now());
        return showMember(request, reply, user_id, 200, 1, fresh(), undefined, undefined, {
          whatIf: { ...shown, result },
        });
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showMember(request, reply, user_id, err.status, 1, fresh(), undefined, undefined, {
          whatIf: { ...shown, error: actionError(err) },
        });
      }
    });

    scope.post('/members/:user_id/gift-cards/:card_id/resend', async (request, reply) => {
      const { user_id, card_id } = request.params as { user_id: string; card_id: string };
      try {
        await resendCard(db, sessionOf(request), user_id, card_id, await clock.now(), giftCardKey);
        return redirect(reply, memberHref(user_id, 'gift_card_resent'));
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showMember(request, reply, user_id, err.status, 1, fresh(), undefined, undefined, {
          giftCard: { error: actionError(err) },
        });
      }
    });

    scope.get('/webhooks', async (request, reply) => {
      const session = sessionOf(request);
      const now = await clock.now();
      const [hooks, health, program] = await Promise.all([
        listWebhookRows(db, session.retailerId),
        webhookHealth(db, session.retailerId),
        getProgramAt(db, session.retailerId, now),
      ]);
      const byId = new Map(health.map((h) => [h.webhook_id, h]));
      const lines = hooks.map((w) => {
        const h = byId.get(w.id);
        return {
          id: w.id,
          url: w.url,
          events: w.events,
          description: w.description ?? undefined,
          created_at: new Date(w.created_at),
          pending: h?.pending ?? 0,
          failed: h?.failed ?? 0,
          last_failure_at: h?.last_failure_at ? new Date(h.last_failure_at) : null,
          last_failure: h?.last_failure ?? null,
        };
      });
      return page(request, reply, 200, 'Webhooks', webhooksView(lines, program.time_zone), 'webhooks');
    });

    scope.get('/program', async (request, reply) => {
      const session = sessionOf(request);
      const data = await programPage(db, session.retailerId, await clock.now());
      return page(request, reply, 200, 'Program', programView(data), 'program');
    });

    // Behaviours (issue #14 item 8): each change is a new program version, as in the admin API.
    async function showBehaviours(
      request: FastifyRequest,
      reply: FastifyReply,
      status: number,
      form: BehaviourForm,
      notice?: Notice,
    ) {
      const session = sessionOf(request);
      const data = await behavioursPage(db, session.retailerId, await clock.now());
      const body = behavioursView(data, session.csrfToken, form, notice);
      return page(request, reply, status, 'Behaviours', body, 'behaviours');
    }

    const BEHAVIOUR_NOTICES: Record<string, Notice> = {
      added: { kind: 'ok', text: 'Behaviour added: it applies to events from now on.' },
      removed: { kind: 'ok', text: 'Behaviour removed: its event no longer has its outcomes.' },
      gone: { kind: 'info', text: 'That behaviour was already removed.' },
    };

    scope.get('/behaviours', async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      const notice =
        q.notice && Object.hasOwn(BEHAVIOUR_NOTICES, q.notice) ? BEHAVIOUR_NOTICES[q.notice] : undefined;
      return showBehaviours(request, reply, 200, {}, notice);
    });

    scope.post('/behaviours', async (request, reply) => {
      const sent = formOf(request.body);
      const form: BehaviourForm = Object.fromEntries(FORM_FIELDS.map((k) => [k, sent[k]]));
      try {
        const input = parseBehaviourForm(form);
        await addBehaviour(db, sessionOf(request).retailerId, input, await clock.now());
        return redirect(reply, '/console/behaviours?notice=added');
      } catch (err) {
        if (!(err instanceof FormError)) throw err;
        return showBehaviours(request, reply, 400, {
          ...form,
          error: { field: err.field, message: err.message },
        });
      }
    });

    scope.post('/behaviours/:behaviour_id/remove', async (request, reply) => {
      const { behaviour_id } = request.params as { behaviour_id: string };
      const removed = await removeBehaviour(
        db,
        sessionOf(request).retailerId,
        behaviour_id,
        await clock.now(),
      );
      return redirect(reply, `/console/behaviours?notice=${removed ? 'removed' : 'gone'}`);
    });
  });
};
