import { describe, expect, it } from 'vitest';
import { awardText, expiryText, tierClass } from './console.views.js';

describe('console wording', () => {
  it('names tier expiry policies in words', () => {
    expect(expiryText('never')).toBe('Never expires');
    expect(expiryText('end_of_following_calendar_year')).toBe('End of the following calendar year');
    expect(expiryText('rolling_months:12')).toBe('12 months after it is reached');
    expect(expiryText('rolling_months:1')).toBe('1 month after it is reached');
  });

  it('says what each kind of campaign award adds', () => {
    expect(awardText({ type: 'multiplier', factor: 2 }, 'USD')).toBe('×2 base points');
    expect(awardText({ type: 'threshold_bonus', min_eligible_spend: 250, points: 500 }, 'USD')).toBe(
      '+500 points on eligible spend of 250.00 USD or more',
    );
    expect(awardText({ type: 'item_points', points_per_unit: 50, categories: ['SHOES'] }, 'USD')).toBe(
      '50 points per unit of categories SHOES',
    );
  });

  it('badge classes are safe class names for any level name', () => {
    expect(tierClass('GOLD')).toBe('tier-gold');
    expect(tierClass('Gold "VIP" <x>')).toBe('tier-gold-vip-x-');
  });
});
