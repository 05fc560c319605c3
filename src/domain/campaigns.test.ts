import { describe, expect, it } from 'vitest';
import {
  campaignRunsAt,
  campaignSpan,
  memberMayJoin,
  campaignStatus,
  eligibleCampaignIds,
  targetingAdmits,
  type PurchaseFacts,
} from './campaigns.js';
import { acmeProgram, type Campaign } from './program.js';

const NY = 'America/New_York';
const program = acmeProgram('66f9b3f2-7770-4dca-ac8e-2a1ef7e8e54b');
const dpd = program.campaigns[0]!;
const anyone: PurchaseFacts = { store_id: 'S1', channel: null, tier: 'BASE' };
const at = (iso: string) => new Date(iso);

describe('campaign windows and targeting', () => {
  it('runs from program-time midnight of its first day to the end of its last day', () => {
    expect(campaignRunsAt(dpd, at('2026-11-27T04:59:59Z'), NY)).toBe(false);
    expect(campaignRunsAt(dpd, at('2026-11-27T05:00:00Z'), NY)).toBe(true);
    expect(campaignRunsAt(dpd, at('2026-12-01T04:59:59Z'), NY)).toBe(true);
    expect(campaignRunsAt(dpd, at('2026-12-01T05:00:00Z'), NY)).toBe(false);
  });

  it('stops at the instant it was ended', () => {
    const ended: Campaign = { ...dpd, ended_at: '2026-11-28T17:00:00.000Z' };
    expect(campaignRunsAt(ended, at('2026-11-28T16:59:59.999Z'), NY)).toBe(true);
    expect(campaignRunsAt(ended, at('2026-11-28T17:00:00Z'), NY)).toBe(false);
    expect(campaignStatus(ended, at('2026-11-28T16:00:00Z'), NY)).toBe('active');
    expect(campaignStatus(ended, at('2026-11-28T17:00:00Z'), NY)).toBe('ended');
  });

  it('is scheduled before its window, active in it, ended after it', () => {
    expect(campaignStatus(dpd, at('2026-11-27T04:59:59Z'), NY)).toBe('scheduled');
    expect(campaignStatus(dpd, at('2026-11-27T05:00:00Z'), NY)).toBe('active');
    expect(campaignStatus(dpd, at('2026-12-01T05:00:00Z'), NY)).toBe('ended');
  });

  it('targets tiers, stores and channels; an absent or empty list admits everyone', () => {
    const c: Campaign = {
      ...dpd,
      targeting: { tiers: ['GOLD'], store_ids: ['S1', 'S2'], channels: ['Web'] },
    };
    expect(targetingAdmits(c, { store_id: 'S1', channel: 'web ', tier: 'GOLD' })).toBe(true);
    expect(targetingAdmits(c, { store_id: 'S1', channel: 'web', tier: 'BASE' })).toBe(false);
    expect(targetingAdmits(c, { store_id: 'S3', channel: 'web', tier: 'GOLD' })).toBe(false);
    expect(targetingAdmits(c, { store_id: 'S1', channel: null, tier: 'GOLD' })).toBe(false);
    expect(targetingAdmits(c, { store_id: 'S1', channel: 'store', tier: 'GOLD' })).toBe(false);
    expect(targetingAdmits({ ...dpd, targeting: { tiers: [], channels: [] } }, anyone)).toBe(true);
    expect(targetingAdmits(dpd, anyone)).toBe(true);
  });

  it('finds the eligible campaigns of a purchase by its time and facts', () => {
    expect(eligibleCampaignIds(program, at('2026-11-28T15:00:00Z'), anyone)).toEqual([dpd.id]);
    expect(eligibleCampaignIds(program, at('2026-12-10T15:00:00Z'), anyone)).toEqual([
      program.campaigns[1]!.id,
    ]);
    expect(eligibleCampaignIds(program, at('2026-11-02T15:00:00Z'), anyone)).toEqual([]);
  });

  it('spans program-local midnight of its first day to midnight after its last, or its end', () => {
    expect(campaignSpan(dpd, NY)).toEqual({
      start: at('2026-11-27T05:00:00Z'),
      end: at('2026-12-01T05:00:00Z'),
    });
    const ended: Campaign = { ...dpd, ended_at: '2026-11-28T17:00:00.000Z' };
    expect(campaignSpan(ended, NY).end).toEqual(at('2026-11-28T17:00:00Z'));
    const spanningMonths: Campaign = { ...dpd, starts_on: '2026-12-01', ends_on: '2026-12-31' };
    expect(campaignSpan(spanningMonths, NY).end).toEqual(at('2027-01-01T05:00:00Z'));
  });

  it('a member may join an active campaign when enrolled and admitted by its tier targeting', () => {
    const now = at('2026-11-28T15:00:00Z');
    const gold: Campaign = { ...dpd, targeting: { tiers: ['GOLD'], store_ids: ['S9'] } };
    expect(memberMayJoin(dpd, now, NY, { enrolled: true, tier: 'BASE' })).toBe(true);
    expect(memberMayJoin(dpd, now, NY, { enrolled: false, tier: null })).toBe(false);
    expect(memberMayJoin(gold, now, NY, { enrolled: true, tier: 'BASE' })).toBe(false);
    expect(memberMayJoin(gold, now, NY, { enrolled: true, tier: 'GOLD' })).toBe(true);
    expect(memberMayJoin(dpd, at('2026-12-01T05:00:00Z'), NY, { enrolled: true, tier: 'BASE' })).toBe(false);
  });
});
