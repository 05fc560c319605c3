import { describe, expect, it } from 'vitest';
import { loyaltyFields, tierDetails, type MemberStanding } from './loyalty-view.js';
import { acmeProgram } from './program.js';

const retailer = '66f9b3f2-7770-4dca-ac8e-2a1ef7e8e54b';
const user = '6cb9eee8-4a90-11e9-b863-0242ac11000c';
const program = acmeProgram(retailer);
const optedInAt = new Date('2019-03-22T18:12:02.780Z');
/** A member with no ledger activity: at the floor level from opt-in, or UNENROLLED. */
const noActivity = (enrolled: boolean): MemberStanding => ({
  retailer_id: retailer,
  user_id: user,
  opted_in: enrolled,
  balances: {},
  used: new Set(),
  tier: enrolled
    ? {
        level_id: program.tier_system.levels[0]!.id,
        entered_at: optedInAt,
        resets_at: null,
        period_ends_at: new Date('2020-01-01T05:00:00Z'),
      }
    : null,
});

describe('loyalty view', () => {
  it('shows a member without activity as BASE with 0 points, 2,000 to SILVER', () => {
    const s = noActivity(true);
    expect(loyaltyFields(program, s)).toEqual({
      available_points: 0,
      tier: 'BASE',
      tier_system: 'ACME Tier System',
      tier_points: 0,
      next_tier_points: 2000,
      tier_ends_value: 2000,
      tier_entered_at: '2019-03-22 18:12:02',
      tier_resets_at: '2020-01-01 05:00:00',
    });
  });

  it('shows a member who opted out as UNENROLLED with no tier levels', () => {
    const s = noActivity(false);
    expect(loyaltyFields(program, s).tier).toBe('UNENROLLED');
    expect(tierDetails(program, s).tier_levels).toEqual([]);
  });

  it('reproduces the seed: SILVER with 2,000 TQ points shows GOLD at 10,000 as the next target', () => {
    const silver = program.tier_system.levels.find((l) => l.name === 'SILVER')!;
    const s = {
      retailer_id: retailer,
      user_id: user,
      opted_in: true,
      balances: {
        spendable: { balance: 2000, life_time_value: 2000 },
        tier: { balance: 2000, life_time_value: 2000 },
      },
      used: new Set(['spendable', 'tier'] as const),
      tier: {
        level_id: silver.id,
        entered_at: optedInAt,
        resets_at: new Date('2020-12-31T05:00:00Z'),
        period_ends_at: new Date('2020-01-01T05:00:00Z'),
      },
    };
    expect(loyaltyFields(program, s)).toMatchObject({
      available_points: 2000,
      tier: 'SILVER',
      tier_points: 2000,
      next_tier_points: 8000,
      tier_ends_value: 10000,
    });
    const level = tierDetails(program, s).tier_levels[0]!;
    expect(level.join_date).toBe('2019-03-22T18:12:02.78');
    expect(level.next_tier_overview).toMatchObject({ name: 'GOLD', rank: 3, status: 2 });
    const rule = level.tier_progress[0]!.rules[0]!;
    expect(rule).toMatchObject({ query_result: 2000, rule_passed: false, rule: { target_balance: 10000 } });
    expect(tierDetails(program, s).point_account_balances.summary).toEqual({
      total_points: 4000,
      life_time_points: 4000,
    });
  });

  it('has no next tier at the top level', () => {
    const gold = program.tier_system.levels.find((l) => l.name === 'GOLD')!;
    const s = {
      retailer_id: retailer,
      user_id: user,
      opted_in: true,
      balances: { tier: { balance: 12000, life_time_value: 12000 } },
      used: new Set(['tier'] as const),
      tier: {
        level_id: gold.id,
        entered_at: optedInAt,
        resets_at: null,
        period_ends_at: new Date('2020-01-01T05:00:00Z'),
      },
    };
    expect(loyaltyFields(program, s)).toMatchObject({
      tier: 'GOLD',
      next_tier_points: null,
      tier_ends_value: null,
    });
    expect('next_tier_overview' in tierDetails(program, s).tier_levels[0]!).toBe(false);
  });

  it('gives each retailer its own stable program ids', () => {
    expect(acmeProgram(retailer)).toEqual(program);
    expect(acmeProgram('01a214b5-3590-7a30-be4e-618b75df952f').point_accounts[0]!.id).not.toBe(
      program.point_accounts[0]!.id,
    );
  });
});
