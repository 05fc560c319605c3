import type { FastifyInstance } from 'fastify';
import { validationError } from '../errors.js';

// A UTF-16 surrogate without its other half: JSON can write one ("\ud800"), UTF-8 cannot encode it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether PostgreSQL can store a string exactly as sent (text and jsonb alike). */
export const storableText = (s: string): boolean => !s.includes('\u0000') && !LONE_SURROGATE.test(s);

/** How deep a JSON body may nest: the deepest documented body (a program) nests 6 levels. */
export const MAX_BODY_DEPTH = 32;

/**
 * What makes a parsed JSON body unfit to handle, with the path of the offending key or value
 * (`user.first_name`, `deposit_details.0.reference_id`), or undefined. Iterative: it must not
 * itself fail on the deep bodies it refuses.
 */
export function bodyProblem(body: unknown): { field: string; message: string } | undefined {
  const stack: [unknown, string, number][] = [[body, '', 0]];
  while (stack.length) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (!storableText(value)) {
        const field = path || 'body';
        return { field, message: `${field} must be text without NUL characters or lone surrogates` };
      }
    } else if (value !== null && typeof value === 'object') {
      if (depth === MAX_BODY_DEPTH) {
        const field = path || 'body';
        return { field, message: `the body nests deeper than ${MAX_BODY_DEPTH} levels at ${field}` };
      }
      for (const [key, child] of Object.entries(value)) {
        const at = path ? `${path}.${key}` : key;
        if (!storableText(key)) {
          return { field: at, message: `${at} must be a key without NUL characters or lone surrogates` };
        }
        stack.push([child, at, depth + 1]);
      }
    }
  }
  return undefined;
}

/**
 * Refuses, before validation, a JSON body the rest of the server cannot handle (400 `validation`,
 * the field named). The hostile-input fuzzer (issue #7) found each reaching past validation to a
 * 500 or a silent change: a NUL character, which PostgreSQL text and jsonb refuse; a lone
 * surrogate, which both drivers store as U+FFFD, so the value reads back changed (or a later
 * comparison with it failed); and a value nested thousands deep, which overflowed the stack of the
 * recursive walks of custom attributes and of the POS request hash. One check at the edge covers
 * every field, present and future.
 */
export function registerBodyGuards(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const problem = bodyProblem(request.body);
    if (problem) throw validationError(problem.message, problem.field);
  });
}
