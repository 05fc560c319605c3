/**
 * What a request looks like in the log (issue #7 security basics): the method, the path, and the
 * query with its values hidden except harmless flags and paging, so searches by email, phone or
 * external id leave no personal data in the logs. Credentials are redacted separately (headers).
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

export function loggedUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
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
  return `${url.slice(0, at)}?${query}`;
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
