import { startOfLocalYear, wallTime, zonedInstant } from './calendar.js';
import type { MemberStanding } from './loyalty-view.js';
import {
  downgradeOf,
  maintenanceThreshold,
  type ProgramDocument,
  type TierDowngrade,
  type TierExpiry,
  type TierLevel,
} from './program.js';

/**
 * The tier engine (DESIGN §6, issue #4): pure. From a program and a member's tier-qualifying
 * history it answers "which level at instant T, since when, until when", plus every tier change up
 * to T. Only inputs effective at or before T are read, so a read never depends on when (or whether)
 * a sweep ran (DESIGN §5, as-of correctness).
 *
 * The model, and the choices the design leaves open:
 * - **Holds.** A level is *reached* at the first instant of a qualifying period (the calendar year
 *   in the program's zone) at which the running TQ balance of that period is >= its threshold.
 *   Each reach *holds* the level from that instant until the level's own expiry computed from it
 *   (`levelExpiry`). The tier at T is the highest level held at T, at least the floor (lowest
 *   rank, BASE) when enrolled. For `end_of_following_calendar_year` a hold lasts exactly while the
 *   reach lies in the current or the previous period, which is §6's definition word for word; for
 *   `never` and `rolling_months:N` the level's policy, not the period, decides how long it holds.
 * - **Balance.** Changes effective at the same instant are netted (the balance at an instant is the
 *   one after all of them, whatever order they arrived in); the running balance is floored at 0
 *   after each instant and restarts at 0 at 00:00 on 1 January local (§6). A return only lowers the
 *   balance, never a level already reached: "the customer remains in the tier" (§4).
 * - **Enrollment episodes.** Opting in starts a fresh episode at the floor level at that instant;
 *   opting out ends it (UNENROLLED, null). Only TQ changes and manual moves inside the current
 *   episode count toward its tiers: the qualifying balance restarts at 0 at opt-in, so a member
 *   who leaves and comes back starts again from BASE. `tq_balance` stays the account's balance.
 * - **`rolling_months:N`.** The hold ends at the same local wall-clock time N calendar months after
 *   the reach, in the program's zone, the day clamped to the target month's last day (31 January +
 *   1 month = 28/29 February); a wall time that falls in a DST gap is read as `zonedInstant` does.
 * - **entered_at / resets_at.** `entered_at` is the start of the member's current uninterrupted run
 *   at the current level (a level reached in both years keeps its first instant; a drop at expiry
 *   enters the lower level at the expiry instant). `resets_at` is the end of the longest hold of the
 *   current level, i.e. its expiry from the last time it was reached; null for the floor or `never`.
 * - **Manual moves** (issue #4: the move "holds until that level's own expiry"). A move to L at m
 *   holds L from m until L's expiry computed from m, and ends at m every hold of a level above L
 *   that began at or before m, so a move down takes effect. Apart from that the tier stays the
 *   maximum of all holds: qualifying after m still moves the member up at once, and when the
 *   manual hold ends the member falls back to the highest level still held. Moves while not
 *   enrolled are ignored; a move to a level the program lacks is an error.
 * - **Same instant.** Opt-outs apply before opt-ins (so a simultaneous pair leaves the member
 *   enrolled, in a fresh episode), then TQ changes, then manual moves (lowest level first, so the
 *   highest of simultaneous moves wins).
 */

/** A signed change to the Tier Qualifying Account at its effective instant (a rollover: at maturation). */
export interface TqChange {
  at: Date;
  /** Positive for rollovers and deposits, negative for late-return clawbacks. */
  points: number;
}

/** The member's opted-in flag becoming `opted_in` at `at` (creation opted in is an opt-in). */
export interface EnrollmentChange {
  at: Date;
  opted_in: boolean;
}

/** A manual move of the member to a level (issue #4, `movement/move_user`); audited elsewhere. */
export interface ManualMove {
  at: Date;
  level_id: string;
  /**
   * When the move's hold ends, when not the level's own expiry from `at`: an opening tier brought
   * from another platform holds until the expiry that platform gave it (issue #16).
   */
  until?: Date | null;
}

/** Everything the engine reads about one member, in any order; events after T are ignored. */
export interface TierInputs {
  tq_changes: readonly TqChange[];
  enrollment: readonly EnrollmentChange[];
  manual_moves?: readonly ManualMove[];
}

/** Why a member's level changed (issue #4, history). */
export type TierChangeCause =
  'qualified' | 'expired' | 'soft_landing' | 'renewed' | 'manual_move' | 'opted_in' | 'opted_out';

/**
 * One tier change; a null level id means UNENROLLED. A renewal (issue #20) keeps the level: its
 * from and to are the same level, and it says with how many points in which period.
 */
export interface TierChange {
  at: Date;
  from_level_id: string | null;
  to_level_id: string | null;
  cause: TierChangeCause;
  /** A renewal's qualifying balance at its instant. */
  points?: number;
  /** A renewal's qualifying period: the local calendar year. */
  period?: number;
}

/** A member's tier at one instant. */
export interface TierStanding {
  /** Current level; null means UNENROLLED. */
  level: TierLevel | null;
  /** Start of the current uninterrupted run at `level`; null when unenrolled. */
  entered_at: Date | null;
  /** When `level` expires (its next maintenance evaluation); null for the floor, `never`, or when unenrolled. */
  resets_at: Date | null;
  /**
   * Points of this period still needed to keep `level` at its next evaluation (issue #20): 0 once
   * it is secured past the end of this period, for a level that never expires, or when unenrolled.
   */
  maintenance_required_points: number;
  /** When `level` was last evaluated in the current run: kept by a renewal, or landed on at an expiry. */
  last_evaluated_at: Date | null;
  /** Tier Qualifying Account balance: changes effective in [period_start, T], floored at 0. */
  tq_balance: number;
  /** The part of `tq_balance` earned in the current enrollment episode: what counts toward the next level. */
  qualifying_balance: number;
  /** 00:00 on 1 January of T's year, program time: the start of the current qualifying period. */
  period_start: Date;
  /** 00:00 on the next 1 January, program time: when the TQ balance next resets. */
  next_reset_at: Date;
  /** Every tier change up to and including T, oldest first. */
  history: TierChange[];
}

interface Ladder {
  timeZone: string;
  /** Levels by rank, lowest first; the first is the enrolled floor. */
  levels: TierLevel[];
  downgrade: TierDowngrade;
  floor: TierLevel;
  byId: Map<string, TierLevel>;
}

/** Instants as epoch milliseconds inside the engine. */
type Ms = number;

interface Episode {
  start: Ms;
  /** Exclusive; null while still enrolled. */
  end: Ms | null;
}

interface Hold {
  level: TierLevel;
  from: Ms;
  /** Exclusive; Infinity for a level that never expires. */
  until: Ms;
  /** A landing holds the level below an expired one for one evaluation period (issue #20). */
  cause: 'qualified' | 'renewed' | 'landed' | 'manual_move';
}

interface Move {
  at: Ms;
  level: TierLevel;
  /** The hold's end when given; else the level's expiry from `at`. */
  until?: Ms;
}

interface Facts {
  /** Netted TQ changes, one per instant, in time order. */
  changes: { at: Ms; points: number }[];
  episodes: Episode[];
  /** In processing order: time, then rank. */
  moves: Move[];
}

/** The member's tier at `at` (DESIGN §6), from inputs effective at or before `at`. */
export function tierAt(program: ProgramDocument, inputs: TierInputs, at: Date): TierStanding {
  const ladder = ladderOf(program);
  const t = instant(at, 'evaluation instant');
  const facts = factsUpTo(ladder, inputs, t);
  const periodStart = startOfLocalYear(localYear(ladder, t), ladder.timeZone).getTime();
  const base = {
    tq_balance: runningBalance(facts.changes, periodStart, t),
    period_start: new Date(periodStart),
    next_reset_at: startOfLocalYear(localYear(ladder, t) + 1, ladder.timeZone),
    history: historyOf(ladder, facts, t),
  };
  const episode = facts.episodes.at(-1);
  if (!episode || episode.end !== null) {
    return {
      ...base,
      level: null,
      entered_at: null,
      resets_at: null,
      maintenance_required_points: 0,
      last_evaluated_at: null,
      qualifying_balance: 0,
    };
  }
  const { holds, current: level } = replayEpisode(ladder, facts, episode, t);
  // A renewal keeps the level: the run at it started at the last change that was not one.
  let run = base.history.length - 1;
  while (base.history[run]!.cause === 'renewed') run--;
  const evaluations = base.history
    .slice(run)
    .filter((c) => c.cause === 'renewed' || c.cause === 'soft_landing' || c.cause === 'expired');
  const resets_at = resetsAt(ladder, level, holds, t);
  const qualifying_balance = runningBalance(facts.changes, Math.max(periodStart, episode.start), t);
  // Issue #20: only a level that expires by the end of this period needs this period's points.
  const due = resets_at !== null && resets_at.getTime() <= base.next_reset_at.getTime();
  return {
    ...base,
    level,
    entered_at: base.history[run]!.at,
    resets_at,
    maintenance_required_points: due ? Math.max(0, maintenanceThreshold(level) - qualifying_balance) : 0,
    last_evaluated_at: evaluations.at(-1)?.at ?? null,
    qualifying_balance,
  };
}

/**
 * The first instant after `at` at which `tierAt` can answer differently by time alone, given the
 * same inputs (issue #15: a stored standing is served until then): the next qualifying-period
 * boundary (the TQ balance resets, DESIGN §6), the end of any hold of the open episode (an expiry,
 * a soft landing's end, a manual move's end), and any input effective after `at`. Inputs recorded
 * later are the writer's business: every write invalidates the stored standing.
 */
export function nextTierChangeAfter(program: ProgramDocument, inputs: TierInputs, at: Date): Date {
  const ladder = ladderOf(program);
  const t = instant(at, 'evaluation instant');
  let next = startOfLocalYear(localYear(ladder, t) + 1, ladder.timeZone).getTime();
  const later = (ms: Ms): void => {
    if (ms > t && ms < next) next = ms;
  };
  for (const c of inputs.tq_changes) later(instant(c.at, 'TQ change'));
  for (const e of inputs.enrollment) later(instant(e.at, 'enrollment change'));
  for (const m of inputs.manual_moves ?? []) later(instant(m.at, 'manual move'));
  const facts = factsUpTo(ladder, inputs, t);
  const episode = facts.episodes.at(-1);
  if (episode && episode.end === null) {
    for (const h of replayEpisode(ladder, facts, episode, t).holds) later(h.until);
  }
  return new Date(next);
}

/** Every tier change up to and including `until`, oldest first. */
export function tierTimeline(program: ProgramDocument, inputs: TierInputs, until: Date): TierChange[] {
  const ladder = ladderOf(program);
  const t = instant(until, 'timeline end');
  return historyOf(ladder, factsUpTo(ladder, inputs, t), t);
}

/** The level ranked just above `level`, or null at the top. */
export function nextTierFor(program: ProgramDocument, level: TierLevel): TierLevel | null {
  return ladderOf(program).levels.find((l) => l.rank > level.rank) ?? null;
}

/** When a hold of `level` begun at `from` (a reach or a manual move) ends; null if never. */
export function levelExpiry(program: ProgramDocument, level: TierLevel, from: Date): Date | null {
  const until = expiryMs(program.time_zone, level.expiry, instant(from, 'hold start'));
  return Number.isFinite(until) ? new Date(until) : null;
}

/** The standing in the shape the loyalty view reads (`MemberStanding.tier`). */
export function memberTier(standing: TierStanding): MemberStanding['tier'] {
  if (!standing.level) return null;
  return {
    level_id: standing.level.id,
    entered_at: standing.entered_at!,
    resets_at: standing.resets_at,
    period_ends_at: standing.next_reset_at,
  };
}

/** `memberTier` with the maintenance figures the user object shows (issue #20). */
export function memberTierWithMaintenance(standing: TierStanding): MemberStanding['tier'] {
  const tier = memberTier(standing);
  if (!tier) return null;
  return {
    ...tier,
    maintenance_points: standing.qualifying_balance,
    maintenance_required_points: standing.maintenance_required_points,
    last_evaluated_at: standing.last_evaluated_at,
  };
}

function ladderOf(program: ProgramDocument): Ladder {
  const levels = [...program.tier_system.levels].sort((a, b) => a.rank - b.rank);
  const floor = levels[0];
  if (!floor) throw new Error(`tier system ${program.tier_system.name} has no levels`);
  return {
    timeZone: program.time_zone,
    levels,
    downgrade: downgradeOf(program.tier_system),
    floor,
    byId: new Map(levels.map((l) => [l.id, l])),
  };
}

function instant(d: Date, what: string): Ms {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} is not a valid instant`);
  return ms;
}

function localYear(ladder: Ladder, t: Ms): number {
  return wallTime(new Date(t), ladder.timeZone).year;
}

/** Validated, sorted inputs effective at or before `until`. */
function factsUpTo(ladder: Ladder, inputs: TierInputs, until: Ms): Facts {
  const moves = (inputs.manual_moves ?? [])
    .map((m) => ({
      at: instant(m.at, 'manual move'),
      level: levelById(ladder, m.level_id),
      ...(m.until ? { until: instant(m.until, 'manual move end') } : {}),
    }))
    .filter((m) => m.at <= until)
    .sort((a, b) => a.at - b.at || a.level.rank - b.level.rank);
  return {
    changes: nettedChanges(inputs.tq_changes, until),
    episodes: episodesOf(inputs.enrollment, until),
    moves,
  };
}

function levelById(ladder: Ladder, id: string): TierLevel {
  const level = ladder.byId.get(id);
  if (!level) throw new RangeError(`manual move to unknown tier level ${id}`);
  return level;
}

/** One change per instant, the sum of those at it, so arrival order cannot matter. */
function nettedChanges(changes: readonly TqChange[], until: Ms): Facts['changes'] {
  const net = new Map<Ms, number>();
  for (const c of changes) {
    const at = instant(c.at, 'TQ change');
    if (!Number.isFinite(c.points)) throw new RangeError('TQ change points must be finite');
    if (at <= until) net.set(at, (net.get(at) ?? 0) + c.points);
  }
  return [...net].map(([at, points]) => ({ at, points })).sort((a, b) => a.at - b.at);
}

/** Enrollment episodes; redundant opt-ins and opt-outs are no-ops, opt-outs first at one instant. */
function episodesOf(changes: readonly EnrollmentChange[], until: Ms): Episode[] {
  const sorted = changes
    .map((c) => ({ at: instant(c.at, 'enrollment change'), opted_in: c.opted_in }))
    .filter((c) => c.at <= until)
    .sort((a, b) => a.at - b.at || Number(a.opted_in) - Number(b.opted_in));
  const episodes: Episode[] = [];
  for (const c of sorted) {
    const open = episodes.at(-1)?.end === null;
    if (c.opted_in && !open) episodes.push({ start: c.at, end: null });
    if (!c.opted_in && open) episodes.at(-1)!.end = c.at;
  }
  return episodes;
}

/** Running balance of the changes in [from, to], floored at 0 after each instant (§6, §4). */
function runningBalance(changes: Facts['changes'], from: Ms, to: Ms): number {
  let balance = 0;
  for (const c of changes) if (c.at >= from && c.at <= to) balance = Math.max(0, balance + c.points);
  return balance;
}

function expiryMs(timeZone: string, expiry: TierExpiry, from: Ms): Ms {
  if (expiry === 'never') return Infinity;
  const w = wallTime(new Date(from), timeZone);
  // §6: a level reached in year Y holds to the end of Y+1, i.e. until 00:00 on 1 January Y+2.
  if (expiry === 'end_of_following_calendar_year') return startOfLocalYear(w.year + 2, timeZone).getTime();
  return addLocalMonths(timeZone, from, rollingMonths(expiry));
}

function rollingMonths(expiry: string): number {
  const m = /^rolling_months:([1-9]\d*)$/.exec(expiry);
  if (!m) throw new RangeError(`unknown tier expiry ${expiry}`);
  return Number(m[1]);
}

/** The same local wall time `months` calendar months later, the day clamped to the month's end. */
function addLocalMonths(timeZone: string, from: Ms, months: number): Ms {
  const w = wallTime(new Date(from), timeZone);
  const monthIndex = w.month - 1 + months;
  const year = w.year + Math.floor(monthIndex / 12);
  const month = (monthIndex % 12) + 1;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const ms = ((from % 1000) + 1000) % 1000;
  const day = Math.min(w.day, lastDay);
  return zonedInstant(timeZone, year, month, day, w.hour, w.minute, w.second, ms).getTime();
}

/** Where a member stands in one episode at an instant: its holds, its history and its period. */
interface EpisodeState {
  holds: Hold[];
  history: TierChange[];
  current: TierLevel;
  /** The local year of the running balance, and the levels reached and kept in it. */
  year: number | null;
  balance: number;
  reached: Set<TierLevel>;
  kept: Set<TierLevel>;
}

/**
 * One episode replayed instant by instant up to `until` (DESIGN §6, issue #20). At each instant,
 * in this order: the TQ change (reaches), expiries (the drop, or a soft landing under `one_level`),
 * renewals (maintenance met while the level is held), manual moves, then any rise. So an expiry at
 * the instant of a move is recorded before the move and never hidden by it (issue #13 item 6:
 * history is append-only).
 */
function replayEpisode(ladder: Ladder, facts: Facts, episode: Episode, until: Ms): EpisodeState {
  const inEpisode = (at: Ms): boolean => at >= episode.start && (episode.end === null || at < episode.end);
  const changes = facts.changes.filter((c) => inEpisode(c.at));
  const moves = facts.moves.filter((m) => inEpisode(m.at));
  const last = Math.min(until, episode.end === null ? Infinity : episode.end - 1);
  const s: EpisodeState = {
    holds: [],
    history: [change(episode.start, null, ladder.floor, 'opted_in')],
    current: ladder.floor,
    year: null,
    balance: 0,
    reached: new Set(),
    kept: new Set(),
  };
  let ci = 0;
  let mi = 0;
  let t = episode.start;
  for (;;) {
    const next = Math.min(
      changes[ci]?.at ?? Infinity,
      moves[mi]?.at ?? Infinity,
      ...s.holds.map((h) => (h.until > t ? h.until : Infinity)),
    );
    if (!(next <= last)) break;
    t = next;
    if (changes[ci]?.at === t) applyChange(ladder, s, changes[ci++]!);
    applyExpiry(ladder, s, t);
    applyRenewals(ladder, s, t);
    const at = [];
    while (moves[mi]?.at === t) at.push(moves[mi++]!);
    for (const m of at) s.holds = applyMove(ladder, s.holds, m);
    const level = levelAt(ladder, s.holds, t);
    if (level !== s.current) {
      const up = level.rank > s.current.rank;
      s.history.push(change(t, s.current, level, up ? riseCause(s.holds, level, t) : 'manual_move'));
      s.current = level;
    }
  }
  if (episode.end !== null) {
    s.history.push(change(episode.end, s.current, null, 'opted_out'));
  }
  return s;
}

/** A TQ change: the running balance of its period, and every level it reaches first in the period (§6). */
function applyChange(ladder: Ladder, s: EpisodeState, c: Facts['changes'][number]): void {
  const y = localYear(ladder, c.at);
  // §6: the Tier Qualifying Account resets to 0 at 00:00 on 1 January, program time.
  if (y !== s.year) [s.year, s.balance, s.reached, s.kept] = [y, 0, new Set(), new Set()];
  s.balance = Math.max(0, s.balance + c.points);
  for (const level of ladder.levels.slice(1)) {
    if (s.reached.has(level) || s.balance < level.threshold) continue;
    s.reached.add(level);
    s.holds.push(hold(ladder, level, c.at, 'qualified'));
  }
}

/**
 * The current level's holds ended at `t` with none renewed: the member drops to the highest level
 * still held, or under `one_level` to the level just below the one that expired when that is
 * higher (a soft landing, held for one evaluation period: `landingUntil`).
 */
function applyExpiry(ladder: Ladder, s: EpisodeState, t: Ms): void {
  const held = levelAt(ladder, s.holds, t);
  if (held.rank >= s.current.rank) return;
  const below = ladder.levels[ladder.levels.indexOf(s.current) - 1] ?? ladder.floor;
  if (ladder.downgrade === 'one_level' && below.rank > held.rank) {
    s.holds.push({ level: below, from: t, until: landingUntil(ladder, below, t), cause: 'landed' });
    s.history.push(change(t, s.current, below, 'soft_landing'));
    s.current = below;
    return;
  }
  s.history.push(change(t, s.current, held, 'expired'));
  s.current = held;
}

/**
 * Maintenance (issue #20): the first instant of a period at which a held level's maintenance
 * threshold is met renews its hold to the level's expiry measured from then (for
 * `end_of_following_calendar_year`, the end of the following year). Only levels whose maintenance
 * threshold is below the entry threshold have a rule of their own: otherwise keeping a level is
 * reaching it again, which `applyChange` already does (ACME's levels).
 */
function applyRenewals(ladder: Ladder, s: EpisodeState, t: Ms): void {
  if (s.year !== localYear(ladder, t)) return; // no points yet in t's period
  for (const level of ladder.levels.slice(1)) {
    const keep = maintenanceThreshold(level);
    if (keep >= level.threshold || level.expiry === 'never') continue;
    if (s.kept.has(level) || s.balance < keep) continue;
    const active = s.holds.filter((h) => h.level === level && h.from <= t && t < h.until);
    if (!active.length) continue;
    s.kept.add(level);
    const renewal = hold(ladder, level, t, 'renewed');
    const covered = Math.max(...active.map((h) => h.until));
    s.holds.push(renewal);
    if (level === s.current && renewal.until > covered) {
      s.history.push({ ...change(t, level, level, 'renewed'), points: s.balance, period: s.year });
    }
  }
}

/**
 * How long a soft landing holds the lower level: to the end of the qualifying period it lands in
 * for `end_of_following_calendar_year` (so the member is evaluated again at the next year end), the
 * level's own months for `rolling_months:N`, for good for `never`.
 */
function landingUntil(ladder: Ladder, level: TierLevel, t: Ms): Ms {
  if (level.expiry === 'end_of_following_calendar_year') {
    return startOfLocalYear(localYear(ladder, t) + 1, ladder.timeZone).getTime();
  }
  return expiryMs(ladder.timeZone, level.expiry, t);
}

function hold(ladder: Ladder, level: TierLevel, from: Ms, cause: Hold['cause']): Hold {
  return { level, from, until: expiryMs(ladder.timeZone, level.expiry, from), cause };
}

/** A manual move ends earlier holds above its level and holds its own level (issue #4). */
function applyMove(ladder: Ladder, holds: Hold[], move: Move): Hold[] {
  const capped = holds.map((h) =>
    h.from <= move.at && h.level.rank > move.level.rank && h.until > move.at ? { ...h, until: move.at } : h,
  );
  const own = hold(ladder, move.level, move.at, 'manual_move');
  return [...capped, move.until !== undefined ? { ...own, until: move.until } : own];
}

function levelAt(ladder: Ladder, holds: Hold[], t: Ms): TierLevel {
  return holds
    .filter((h) => h.from <= t && t < h.until)
    .reduce((best, h) => (h.level.rank > best.rank ? h.level : best), ladder.floor);
}

function historyOf(ladder: Ladder, facts: Facts, until: Ms): TierChange[] {
  return facts.episodes.flatMap((e) => replayEpisode(ladder, facts, e, until).history);
}

function riseCause(holds: Hold[], level: TierLevel, t: Ms): TierChangeCause {
  const manual = holds.some(
    (h) => h.from === t && h.until > t && h.level === level && h.cause === 'manual_move',
  );
  return manual ? 'manual_move' : 'qualified';
}

function change(at: Ms, from: TierLevel | null, to: TierLevel | null, cause: TierChangeCause): TierChange {
  return { at: new Date(at), from_level_id: from?.id ?? null, to_level_id: to?.id ?? null, cause };
}

/** When the current level expires: the end of its longest hold active at `t`; null for the floor. */
function resetsAt(ladder: Ladder, level: TierLevel, holds: Hold[], t: Ms): Date | null {
  if (level === ladder.floor) return null;
  const until = Math.max(
    ...holds.filter((h) => h.level === level && h.from <= t && t < h.until).map((h) => h.until),
  );
  return Number.isFinite(until) ? new Date(until) : null;
}
