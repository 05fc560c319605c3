import { LaurelError } from '../errors.js';

/** One clear line for a failed command. */
export function failLine(err: unknown): string {
  if (err instanceof LaurelError) return err.message;
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return `cannot reach the database at DATABASE_URL (${err.message})`;
    return err.message;
  }
  return String(err);
}
