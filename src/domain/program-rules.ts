import { isCalendarDate } from './time.js';
import { isTimeZone } from './calendar.js';
import { derivedId } from './ids.js';
import { UNENROLLED, type ProgramDocument, type TierExpiry } from './program.js';
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
    return { id: stable, role: a.role, name: a.name, grouping_label: a.grouping_label };
  });

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
  if (levels[0]!.threshold !== 0 || levels[0]!.expiry !== 'never') {
    throw validationError('the lowest tier level has threshold 0 and never expires', 'tier_system');
  }
  const currentLevel = (name: string) => current?.tier_system.levels.find((c) => c.name === name);

  const campaignNames = new Set<string>();
  const campaigns = input.campaigns.map((c) => {
    if (!isCalendarDate(c.starts_on) || !isCalendarDate(c.ends_on) || c.starts_on > c.ends_on) {
      throw validationError(`campaign ${c.name} needs real dates with starts_on <= ends_on`, 'campaigns');
    }
    if (campaignNames.has(c.name)) throw validationError(`campaign ${c.name} appears twice`, 'campaigns');
    campaignNames.add(c.name);
    const id = c.id ?? current?.campaigns.find((x) => x.name === c.name)?.id ?? derive(`campaign:${c.name}`);
    return { ...c, id };
  });

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
      levels: levels.map((l) => ({
        id: l.id ?? currentLevel(l.name)?.id ?? derive(`tier_level:${l.name}`),
        name: l.name,
        rank: l.rank,
        threshold: l.threshold,
        expiry: l.expiry as TierExpiry,
        rule_id: l.rule_id ?? currentLevel(l.name)?.rule_id ?? derive(`tier_rule:${l.name}`),
      })),
    },
    late_return_policy: input.late_return_policy,
    cash_out: input.cash_out,
    campaigns,
  };
}
