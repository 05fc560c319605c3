/**
 * What a request looks like in the log (issue #7 security basics): the method, the path, and the
 * query with its values hidden except harmless flags and paging, so searches by email, phone or
 * external id leave no personal data in the logs. The path too (issue #13 item 7): the segment
 * after `external/users/` is an external id, and any segment that looks like an email or a phone
 * number is hidden wherever it appears. Credentials are redacted separately (headers).
 */

/** Query parameters whose values are shown: flags and paging, never personal data. */
const SHOWN = new Set([
  'expand_incentives',
  'show_identifiers',
  'user[user_profile]',
  'user%5Buser_profile%5D',
  'page',
  'page_size',
  'sections',
  'creatives',
]);

/** An email (also percent-encoded), or a phone number: digits and phone punctuation only, seven digits or more. */
const personal = (segment: string): boolean =>
  /@|%40/i.test(segment) ||
  (/^(?:[+\d().-]|%20|%2B)+$/i.test(segment) && (segment.match(/\d/g)?.length ?? 0) >= 7);

function loggedPath(path: string): string {
  const parts = path.split('/');
  return parts
    .map((part, i) =>
      (i >= 2 && parts[i - 1] === 'users' && parts[i - 2] === 'external') || personal(part)
        ? '[redacted]'
        : part,
    )
    .join('/');
}

export function loggedUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return loggedPath(url);
  const query = url
    .slice(at + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      return SHOWN.has(key) || eq < 0 ? pair : `${key}=[redacted]`;
    })
    .join('&');
  return `${loggedPath(url.slice(0, at))}?${query}`;
}

interface RawRequest {
  method: string;
  url: string;
  ip?: string;
  hostname?: string;
  socket?: { remotePort?: number };
}

/** Pino's `req` serializer for the server's logger. */
export function serializeRequest(req: RawRequest) {
  return {
    method: req.method,
    url: loggedUrl(req.url),
    hostname: req.hostname,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
