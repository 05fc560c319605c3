import { describe, expect, it } from 'vitest';
import { loggedUrl } from './log.js';

describe('request URLs in the log', () => {
  it('hide the values of personal query parameters, keep flags and paging', () => {
    expect(loggedUrl('/priv/v1/apps/k/users/search?email=test@example.com&expand_incentives=true')).toBe(
      '/priv/v1/apps/k/users/search?email=[redacted]&expand_incentives=true',
    );
    expect(loggedUrl('/x?mobile_number=5089959991&external_id=eutest17&page=2')).toBe(
      '/x?mobile_number=[redacted]&external_id=[redacted]&page=2',
    );
    expect(loggedUrl('/x?user_ids[]=a&user_ids[]=b')).toBe('/x?user_ids[]=[redacted]&user_ids[]=[redacted]');
    expect(loggedUrl('/users/abc')).toBe('/users/abc');
    expect(loggedUrl('/x?flag')).toBe('/x?flag');
  });
});
