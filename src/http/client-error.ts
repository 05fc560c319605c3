import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, type ErrorCode } from '../errors.js';
import { errorBody } from './envelope.js';

/**
 * A request Node's HTTP parser refuses before the server sees it, answered in the API's envelope
 * rather than Node's own bare body (issue #13 item 7): headers or a URL over Node's limit (16 KB by
 * default, `--max-http-header-size`) answer 431 `headers_too_large`; anything else that is not
 * readable HTTP answers 400. A client that is already gone gets nothing.
 */
export function clientErrorAnswer(err: { code?: string }): { code: ErrorCode; message: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return {
      code: 'headers_too_large',
      message: "The request's headers or URL are larger than the server accepts; send less.",
    };
  }
  return { code: 'bad_request', message: 'The request could not be read as HTTP.' };
}

export function writeClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { code, message } = clientErrorAnswer(err);
  const status = ERRORS[code].status;
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
