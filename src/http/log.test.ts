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

  it('personal identifiers in URL paths are logged in clear: no longer (issue #13 item 7)', () => {
    expect(loggedUrl('/priv/v1/apps/k/external/users/jane.doe@corp.com')).toBe(
      '/priv/v1/apps/k/external/users/[redacted]',
    );
    expect(loggedUrl('/priv/v1/apps/k/external/users/EU-1001/tags?ttl=5')).toBe(
      '/priv/v1/apps/k/external/users/[redacted]/tags?ttl=[redacted]',
    );
    expect(loggedUrl('/priv/v1/apps/k/users/jane%40corp.com')).toBe('/priv/v1/apps/k/users/[redacted]');
    expect(loggedUrl('/priv/v1/apps/k/users/5089959991')).toBe('/priv/v1/apps/k/users/[redacted]');
    const id = '01a214b5-3590-7a30-be4e-618b75df952f';
    expect(loggedUrl(`/priv/v1/apps/k/users/${id}`)).toBe(`/priv/v1/apps/k/users/${id}`);
    expect(loggedUrl('/priv/v1/apps/k/users/+1%20(508)%20995-9991')).toBe('/priv/v1/apps/k/users/[redacted]');
    const key = '1234567890abcdef1234567890abcdef12345678';
    expect(loggedUrl(`/priv/v1/apps/${key}/users`)).toBe(`/priv/v1/apps/${key}/users`);
  });
});
