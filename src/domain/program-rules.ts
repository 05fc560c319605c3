import { isCalendarDate, parseInstant } from './time.js';
import { isTimeZone } from './calendar.js';
import { derivedId } from './ids.js';
import {
  UNENROLLED,
  type Behaviour,
  type BehaviourOutcome,
  type BehaviourWindow,
  type Campaign,
  type CampaignAwardRule,
  type ProgramDocument,
  type TierExpiry,
} from './program.js';
import { PRECISIONS, type Precision } from './precision.js';
import { validationError } from '../errors.js';
import type { ProgramInput } from '../program/program.schema.js';

/**
 * What makes a program document meaningful beyond its JSON schema (DESIGN §2, issue #3), pure.
 * Ids are kept stable: an entity that keeps its name keeps its id from the current version; a new
 * one gets an id derived from the retailer and its name unless the document gives one.
 */
export function normalizeProgram(
  input: ProgramInput,
  retailerId: string,
  current: ProgramDocument | undefined,
): ProgramDocument {
  const derive = (name: string): string => derivedId(retailerId, `acme:${name}`);
  if (!isTimeZone(input.time_zone))
    throw validationError(`time_zone ${input.time_zone} is not an IANA zone`, 'time_zone');

  const roles = new Set(input.point_accounts.map((a) => a.role));
  if (roles.size !== 4) {
    throw validationError(
      'point_accounts has one account per role: spendable, spendable_escrow, tier, tier_escrow',
    );
  }
  const point_accounts = input.point_accounts.map((a) => {
    const stable = current?.point_accounts.find((c) => c.role === a.role)?.id ?? derive(`account:${a.role}`);
    if (a.id && a.id.toLowerCase() !== stable) {
      throw validationError(`point account ${a.role} keeps its id ${stable}`, 'point_accounts');
    }
    const precision = accountPrecision(a, input.point_accounts.indexOf(a));
    return {
      id: stable,
      role: a.role,
      name: a.name,
      grouping_label: a.grouping_label,
      // Left out when 0, so documents written before precision existed read back unchanged.
      ...(precision ? { precision } : {}),
    };
  });
  const spendable = point_accounts.find((a) => a.role === 'spendable')!;
  const spendableEscrow = point_accounts.find((a) => a.role === 'spendable_escrow')!;
  if ((spendable.precision ?? 0) !== (spendableEscrow.precision ?? 0)) {
    throw validationError(
      `point_accounts: ${spendableEscrow.name} has precision ${spendableEscrow.precision ?? 0} but ${spendable.name} has ${spendable.precision ?? 0}; ` +
        'an escrow account holds what rolls over into its settled account, so both have the same precision',
      `point_accounts[${input.point_accounts.findIndex((a) => a.role === 'spendable_escrow')}].precision`,
    );
  }

  const levels = [...input.tier_system.levels].sort((a, b) => a.rank - b.rank);
  const names = new Set<string>();
  levels.forEach((l, i) => {
    if (l.name.toUpperCase() === UNENROLLED)
      throw validationError(`${UNENROLLED} is not a level name`, 'tier_system');
    if (names.has(l.name)) throw validationError(`tier level ${l.name} appears twice`, 'tier_system');
    names.add(l.name);
    const prev = levels[i - 1];
    if (prev && (l.rank === prev.rank || l.threshold <= prev.threshold)) {
      throw validationError('tier levels have distinct ranks and thresholds rising with rank', 'tier_system');
    }
  });
  levels.forEach((l) => {
    // Issue #20: keeping a level never takes more than entering it.
    if (l.maintenance_threshold !== undefined && l.maintenance_threshold > l.threshold) {
      throw validationError(
        `tier level ${l.name}: maintenance_threshold ${l.maintenance_threshold} is above its threshold ${l.threshold}`,
        `tier_system.levels[${input.tier_system.levels.indexOf(l)}].maintenance_threshold`,
      );
    }
  });
  if (levels[0]!.threshold !== 0 || levels[0]!.expiry !== 'never') {
    throw validationError('the lowest tier level has threshold 0 and never expires', 'tier_system');
  }
  const currentLevel = (name: string) => current?.tier_system.levels.find((c) => c.name === name);

  // A gift card is a whole number of denominations (DESIGN §7): each must be whole cents and buy
  // with whole points, or a cash-out could not say what it took.
  const denominationCents = input.cash_out.denomination * 100;
  if (Math.abs(denominationCents - Math.round(denominationCents)) > 1e-6) {
    throw validationError('cash_out.denomination must be a whole number of cents', 'cash_out.denomination');
  }
  if ((Math.round(denominationCents) * input.cash_out.points_per_currency_unit) % 100 !== 0) {
    throw validationError(
      'cash_out.denomination × points_per_currency_unit must be a whole number of points',
      'cash_out',
    );
  }

  const campaigns = normalizeCampaigns(input.campaigns, new Set(levels.map((l) => l.name)), current, (name) =>
    derive(`campaign:${name}`),
  );

  const behaviours = normalizeBehaviours(
    input.behaviours ?? current?.behaviours ?? [],
    { levels: new Set(levels.map((l) => l.name)), campaigns: new Set(campaigns.map((c) => c.id)) },
    current,
    derive,
  );

  return {
    name: input.name,
    time_zone: input.time_zone,
    currency: input.currency,
    point_accounts,
    earning: input.earning,
    escrow_days: input.escrow_days,
    available_points: input.available_points,
    tier_system: {
      id: input.tier_system.id ?? current?.tier_system.id ?? derive('tier_system'),
      name: input.tier_system.name,
      qualifying_period: 'calendar_year',
      downgrade: input.tier_system.downgrade ?? 'to_qualified_level',
      levels: levels.map((l) => ({
        id: l.id ?? currentLevel(l.name)?.id ?? derive(`tier_level:${l.name}`),
        name: l.name,
        rank: l.rank,
        threshold: l.threshold,
        maintenance_threshold: l.maintenance_threshold ?? l.threshold,
        expiry: l.expiry as TierExpiry,
        rule_id: l.rule_id ?? currentLevel(l.name)?.rule_id ?? derive(`tier_rule:${l.name}`),
      })),
    },
    late_return_policy: input.late_return_policy,
    cash_out: input.cash_out,
    campaigns,
    // Left out when empty, so documents written before behaviours existed read back unchanged.
    ...(behaviours.length ? { behaviours } : {}),
  };
}

/**
 * An account's declared precision (issue #14 item 3; docs/decisions/0010-account-precision.md): 0
 * or 2, and 2 only on the Spendable pair. The Tier Qualifying accounts count whole points against
 * the ladder's whole-point thresholds, so they stay whole.
 */
function accountPrecision(a: ProgramInput['point_accounts'][number], i: number): Precision {
  const field = `point_accounts[${i}].precision`;
  const precision = a.precision ?? 0;
  if (!(PRECISIONS as readonly number[]).includes(precision)) {
    throw validationError(
      `point_accounts: ${a.name} has precision ${precision}; an account holds 0 (whole points) or 2 decimals`,
      field,
    );
  }
  if (precision !== 0 && a.role !== 'spendable' && a.role !== 'spendable_escrow') {
    throw validationError(
      `point_accounts: ${a.name} (${a.role}) holds whole points; only the spendable accounts may have precision 2 ` +
        '(tier thresholds count whole points)',
      field,
    );
  }
  return precision as Precision;
}

/**
 * Campaigns checked beyond their schema (issue #5): real dates in order, an end instant that parses,
 * item_points listing something, tiers the program has, names and ids unique. A campaign keeps its
 * id across versions by name unless the document gives one; `ended_at` is stored as ISO-8601 UTC.
 */
function normalizeCampaigns(
  input: ProgramInput['campaigns'],
  levelNames: ReadonlySet<string>,
  current: ProgramDocument | undefined,
  derive: (name: string) => string,
): Campaign[] {
  const names = new Set<string>();
  const ids = new Set<string>();
  return input.map((c, i) => {
    const field = `campaigns[${i}]`;
    for (const key of ['starts_on', 'ends_on'] as const) {
      if (!isCalendarDate(c[key])) {
        throw validationError(
          `campaign ${c.name}: ${key} ${c[key]} is not a calendar date`,
          `${field}.${key}`,
        );
      }
    }
    if (c.starts_on > c.ends_on) {
      throw validationError(`campaign ${c.name} needs starts_on <= ends_on`, `${field}.ends_on`);
    }
    if (names.has(c.name)) throw validationError(`campaign ${c.name} appears twice`, `${field}.name`);
    names.add(c.name);
    const id = (
      c.id ??
      current?.campaigns.find((x) => x.name === c.name)?.id ??
      derive(c.name)
    ).toLowerCase();
    if (ids.has(id)) throw validationError(`campaign id ${id} appears twice`, `${field}.id`);
    ids.add(id);
    let endedAt: string | undefined;
    if (c.ended_at !== undefined) {
      const at = parseInstant(c.ended_at);
      if (!at) {
        throw validationError(
          `campaign ${c.name}: ended_at must be an ISO-8601 instant`,
          `${field}.ended_at`,
        );
      }
      endedAt = at.toISOString();
    }
    const award = campaignAward(c.name, c.award, `${field}.award`);
    for (const tier of c.targeting?.tiers ?? []) {
      if (!levelNames.has(tier)) {
        throw validationError(
          `campaign ${c.name} targets tier ${tier}, which is not a level of the program (${[...levelNames].join(', ')})`,
          `${field}.targeting.tiers`,
        );
      }
    }
    return {
      id,
      name: c.name,
      starts_on: c.starts_on,
      ends_on: c.ends_on,
      ...(endedAt !== undefined ? { ended_at: endedAt } : {}),
      award,
      ...(c.targeting !== undefined ? { targeting: c.targeting } : {}),
      ...(c.max_awards_per_member !== undefined ? { max_awards_per_member: c.max_awards_per_member } : {}),
      tier_qualifying: c.tier_qualifying,
      ...(c.creative !== undefined ? { creative: c.creative } : {}),
      ...(c.custom_payload !== undefined
        ? { custom_payload: customPayload(c.name, c.custom_payload, `${field}.custom_payload`) }
        : {}),
    };
  });
}

const MAX_CUSTOM_PAYLOAD_BYTES = 4096;

/** A campaign's custom payload, bounded so every listing stays small. */
function customPayload(name: string, p: Record<string, unknown>, field: string): Record<string, unknown> {
  if (Buffer.byteLength(JSON.stringify(p)) > MAX_CUSTOM_PAYLOAD_BYTES) {
    throw validationError(
      `campaign ${name}: custom_payload is at most ${MAX_CUSTOM_PAYLOAD_BYTES} bytes of JSON`,
      field,
    );
  }
  return p;
}

/** The fields each outcome type has besides id, type and limit; any other is refused. */
const OUTCOME_FIELDS = {
  award_points: ['points', 'account'],
  move_tier: ['tier_level'],
  add_tag: ['tag', 'ttl_seconds'],
} as const;

type OutcomeInput = NonNullable<ProgramInput['behaviours']>[number]['outcomes'][number];

/**
 * Behaviours checked beyond their schema (issue #14 item 8): one per event and campaign, campaigns
 * and tier levels the program has, outcome fields of their type. A behaviour keeps its id by event
 * and campaign, an outcome its id by position and type, unless the document gives them, so
 * per-member limits keep counting across versions.
 */
function normalizeBehaviours(
  input: NonNullable<ProgramInput['behaviours']>,
  known: { levels: ReadonlySet<string>; campaigns: ReadonlySet<string> },
  current: ProgramDocument | undefined,
  derive: (name: string) => string,
): Behaviour[] {
  const keys = new Set<string>();
  const ids = new Set<string>();
  return input.map((b, i) => {
    const field = `behaviours[${i}]`;
    const campaignId = b.campaign_id?.toLowerCase();
    if (campaignId !== undefined && !known.campaigns.has(campaignId)) {
      throw validationError(
        `behaviour ${b.event}: campaign_id ${b.campaign_id} is not a campaign of the program`,
        `${field}.campaign_id`,
      );
    }
    const key = `${campaignId ?? ''}:${b.event}`;
    if (keys.has(key)) {
      throw validationError(
        `behaviour ${b.event} appears twice${campaignId ? ` for campaign ${campaignId}` : ''}`,
        `${field}.event`,
      );
    }
    keys.add(key);
    const same = current?.behaviours?.find((x) => x.event === b.event && x.campaign_id === campaignId);
    const id = (b.id ?? same?.id ?? derive(`behaviour:${key}`)).toLowerCase();
    if (ids.has(id)) throw validationError(`behaviour id ${id} appears twice`, `${field}.id`);
    ids.add(id);
    const previous = current?.behaviours?.find((x) => x.id === id);
    const outcomes = b.outcomes.map((o, j) =>
      behaviourOutcome(b.event, o, `${field}.outcomes[${j}]`, known.levels, () => {
        const kept = previous?.outcomes[j];
        return kept && kept.type === o.type ? kept.id : derive(`behaviour:${id}:outcome:${j}:${o.type}`);
      }),
    );
    const outcomeIds = new Set(outcomes.map((o) => o.id));
    if (outcomeIds.size !== outcomes.length) {
      throw validationError(`behaviour ${b.event}: outcome ids are distinct`, `${field}.outcomes`);
    }
    return {
      id,
      event: b.event,
      ...(b.name !== undefined ? { name: b.name } : {}),
      ...(campaignId !== undefined ? { campaign_id: campaignId } : {}),
      outcomes,
    };
  });
}

function behaviourOutcome(
  event: string,
  o: OutcomeInput,
  field: string,
  levels: ReadonlySet<string>,
  stableId: () => string,
): BehaviourOutcome {
  const allowed: readonly string[] = OUTCOME_FIELDS[o.type];
  for (const key of Object.keys(o)) {
    if (!['id', 'type', 'limit', ...allowed].includes(key)) {
      throw validationError(`behaviour ${event}: a ${o.type} outcome has no ${key}`, `${field}.${key}`);
    }
  }
  const need = <T>(key: string, value: T | undefined): T => {
    if (value === undefined) {
      throw validationError(`behaviour ${event}: a ${o.type} outcome needs ${key}`, `${field}.${key}`);
    }
    return value;
  };
  const common = {
    id: (o.id ?? stableId()).toLowerCase(),
    ...(o.limit ? { limit: { max: o.limit.max, window: o.limit.window as BehaviourWindow } } : {}),
  };
  switch (o.type) {
    case 'award_points':
      return {
        ...common,
        type: 'award_points',
        points: need('points', o.points),
        account: o.account ?? 'spendable',
      };
    case 'move_tier': {
      const level = need('tier_level', o.tier_level);
      if (!levels.has(level)) {
        throw validationError(
          `behaviour ${event} moves to tier ${level}, which is not a level of the program (${[...levels].join(', ')})`,
          `${field}.tier_level`,
        );
      }
      return { ...common, type: 'move_tier', tier_level: level };
    }
    case 'add_tag': {
      const tag = need('tag', o.tag).trim();
      // eslint-disable-next-line no-control-regex
      if (!tag || /[\u0000-\u001f\u007f]/.test(tag)) {
        throw validationError(`behaviour ${event}: a tag is 1 to 100 printable characters`, `${field}.tag`);
      }
      return {
        ...common,
        type: 'add_tag',
        tag,
        ...(o.ttl_seconds !== undefined ? { ttl_seconds: o.ttl_seconds } : {}),
      };
    }
  }
}

/** The fields each award type has; any other is refused, so a typo never passes silently. */
const AWARD_FIELDS = {
  multiplier: ['factor'],
  threshold_bonus: ['min_eligible_spend', 'points'],
  item_points: ['points_per_unit', 'item_ids', 'categories'],
} as const;

/** A campaign's award with exactly the fields of its type (the schema checked their ranges). */
function campaignAward(
  name: string,
  a: ProgramInput['campaigns'][number]['award'],
  field: string,
): CampaignAwardRule {
  const allowed: readonly string[] = AWARD_FIELDS[a.type];
  for (const key of Object.keys(a)) {
    if (key !== 'type' && !allowed.includes(key)) {
      throw validationError(`campaign ${name}: a ${a.type} award has no ${key}`, `${field}.${key}`);
    }
  }
  const need = <T>(key: string, value: T | undefined): T => {
    if (value === undefined) {
      throw validationError(`campaign ${name}: a ${a.type} award needs ${key}`, `${field}.${key}`);
    }
    return value;
  };
  switch (a.type) {
    case 'multiplier':
      return { type: 'multiplier', factor: need('factor', a.factor) };
    case 'threshold_bonus':
      return {
        type: 'threshold_bonus',
        min_eligible_spend: need('min_eligible_spend', a.min_eligible_spend),
        points: need('points', a.points),
      };
    case 'item_points':
      if (!a.item_ids?.length && !a.categories?.length) {
        throw validationError(
          `campaign ${name}: an item_points award lists item_ids, categories or both`,
          field,
        );
      }
      return {
        type: 'item_points',
        points_per_unit: need('points_per_unit', a.points_per_unit),
        ...(a.item_ids ? { item_ids: a.item_ids } : {}),
        ...(a.categories ? { categories: a.categories } : {}),
      };
  }
}
