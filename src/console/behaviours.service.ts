import { Value } from '@sinclair/typebox/value';
import { createBehaviour, deleteBehaviour, listBehaviours } from '../behaviours/behaviour-admin.service.js';
import type { Database } from '../db/database.js';
import type { Behaviour, ProgramDocument } from '../domain/program.js';
import { LaurelError } from '../errors.js';
import { getProgramAt } from '../program/program.service.js';
import { BehaviourInputSchema, type BehaviourInput } from '../program/program.schema.js';
import { FormError } from './console.service.js';

/**
 * The console's behaviours page (issue #14 item 8: "Admin API and console page to manage
 * behaviours, versioned like campaigns"): the behaviours in force, a form that adds one with one
 * outcome, and removal. Every change goes through the same service as `/admin/v1/behaviours`, so
 * each is a new program version in force from now; behaviours with several outcomes or a rolling
 * window are written through the admin API and shown here like any other.
 */

export interface BehavioursPage {
  program: ProgramDocument;
  version: number;
  behaviours: Behaviour[];
}

/** What the add form sent back, to show again with its error. */
export interface BehaviourForm {
  event?: string | undefined;
  name?: string | undefined;
  outcome?: string | undefined;
  points?: string | undefined;
  account?: string | undefined;
  tier_level?: string | undefined;
  tag?: string | undefined;
  ttl_days?: string | undefined;
  limit_max?: string | undefined;
  limit_window?: string | undefined;
  error?: { field: string; message: string } | undefined;
}

export const FORM_FIELDS = [
  'event',
  'name',
  'outcome',
  'points',
  'account',
  'tier_level',
  'tag',
  'ttl_days',
  'limit_max',
  'limit_window',
] as const;

export const LIMIT_WINDOWS = ['lifetime', 'day', 'month', 'year'] as const;

const DAY_SECONDS = 86_400;

export async function behavioursPage(db: Database, retailerId: string, now: Date): Promise<BehavioursPage> {
  const [{ program_version, behaviours }, program] = await Promise.all([
    listBehaviours(db, retailerId, now),
    getProgramAt(db, retailerId, now),
  ]);
  return { program, version: program_version, behaviours };
}

/** A whole number from its form text, or a FormError on `field`. */
function wholeNumber(text: string | undefined, field: string, what: string): number {
  const t = (text ?? '').trim();
  if (!/^\d{1,9}$/.test(t) || Number(t) < 1) throw new FormError(field, `Enter ${what} as a whole number.`);
  return Number(t);
}

/** The form field an admin-service or schema error is about (`/outcomes/0/points` → `points`). */
function formFieldOf(path: string): string {
  const last = path.split(/[./]/).filter(Boolean);
  if (last.includes('limit')) return last.includes('window') ? 'limit_window' : 'limit_max';
  if (last.includes('ttl_seconds')) return 'ttl_days';
  const known = [...last].reverse().find((p) => (FORM_FIELDS as readonly string[]).includes(p));
  return known ?? (last.includes('outcomes') ? 'outcome' : 'event');
}

/** The behaviour the add form describes, checked as the admin API checks its body. */
export function parseBehaviourForm(form: BehaviourForm): BehaviourInput {
  const event = (form.event ?? '').trim();
  if (!event) throw new FormError('event', 'Enter the event name clients send as event_lookup.');
  const name = (form.name ?? '').trim();
  const outcome: Record<string, unknown> = { type: form.outcome };
  switch (form.outcome) {
    case 'award_points':
      outcome.points = wholeNumber(form.points, 'points', 'the points');
      if (form.account !== 'spendable' && form.account !== 'tier') {
        throw new FormError('account', 'Choose the account the points go to.');
      }
      outcome.account = form.account;
      break;
    case 'move_tier':
      if (!form.tier_level) throw new FormError('tier_level', 'Choose the tier level.');
      outcome.tier_level = form.tier_level;
      break;
    case 'add_tag':
      outcome.tag = (form.tag ?? '').trim();
      if (!outcome.tag) throw new FormError('tag', 'Enter the tag to add.');
      if ((form.ttl_days ?? '').trim()) {
        outcome.ttl_seconds = wholeNumber(form.ttl_days, 'ttl_days', 'the days') * DAY_SECONDS;
      }
      break;
    default:
      throw new FormError('outcome', 'Choose what the event does.');
  }
  if ((form.limit_max ?? '').trim()) {
    if (!(LIMIT_WINDOWS as readonly string[]).includes(form.limit_window ?? '')) {
      throw new FormError('limit_window', 'Choose the period the limit counts in.');
    }
    outcome.limit = { max: wholeNumber(form.limit_max, 'limit_max', 'the limit'), window: form.limit_window };
  }
  const input = { event, ...(name ? { name } : {}), outcomes: [outcome] };
  const bad = Value.Errors(BehaviourInputSchema, input).First();
  if (bad) throw new FormError(formFieldOf(bad.path), `${bad.path.slice(1) || 'behaviour'}: ${bad.message}`);
  return input as BehaviourInput;
}

/** Adds the behaviour as a new program version; the program's own checks answer as form errors. */
export async function addBehaviour(
  db: Database,
  retailerId: string,
  input: BehaviourInput,
  now: Date,
): Promise<Behaviour> {
  try {
    return (await createBehaviour(db, retailerId, input, now)).behaviour;
  } catch (err) {
    if (err instanceof LaurelError && err.code === 'validation') {
      const field = err.details?.field;
      throw new FormError(typeof field === 'string' ? formFieldOf(field) : 'event', err.message);
    }
    throw err;
  }
}

/** Removes a behaviour from now; `null` when it is no longer in the program (removed twice). */
export async function removeBehaviour(
  db: Database,
  retailerId: string,
  behaviourId: string,
  now: Date,
): Promise<Behaviour | null> {
  try {
    return (await deleteBehaviour(db, retailerId, behaviourId, now)).behaviour;
  } catch (err) {
    if (err instanceof LaurelError && err.code === 'not_found') return null;
    throw err;
  }
}
