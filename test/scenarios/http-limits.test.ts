import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_DATABASES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them still answer in the API's envelope
 * (issue #13 item 7: headers or URLs over Node's limits answered Node's own 431 body). Needs a real
 * socket: inject() never goes through the parser.
 */

let t: TestApp;
let port: number;
beforeAll(async () => {
  t = await startTestApp(TEST_DATABASES[0]!);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
});
afterAll(() => t.close());

/** Sends raw bytes and reads the whole answer (the server closes the connection). */
function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]),
        headers: head ?? '',
        body: rest.join('\r\n\r\n'),
      });
    });
    socket.end(request);
  });
}

it("headers or URLs over Node's limits answer Node's own 431 body: no longer, the envelope", async () => {
  const big = 'x'.repeat(20_000);
  for (const request of [
    `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Filler: ${big}\r\n\r\n`,
    `GET /priv/v1/apps/k/users/search?email=${big} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
  ]) {
    const res = await raw(request);
    expect(res.status).toBe(431);
    expect(res.headers.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(res.body)).toEqual({
      status: 'error',
      errors: {
        code: 'headers_too_large',
        message: expect.stringContaining('larger than the server accepts'),
      },
    });
  }
  const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
  expect(garbage.status).toBe(400);
  expect(JSON.parse(garbage.body).errors.code).toBe('bad_request');
});
