/**
 * A tiny HTML template for the console's server-rendered pages: every interpolated value is
 * escaped unless it is already `Html` built by this template, so member data (names, reasons,
 * external ids) can never become markup. Arrays are joined; null, undefined and false render
 * nothing.
 */

const HTML_BRAND: unique symbol = Symbol('html');

export interface Html {
  readonly [HTML_BRAND]: true;
  readonly value: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML text node or a quoted attribute value. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);

const isHtml = (v: unknown): v is Html => typeof v === 'object' && v !== null && HTML_BRAND in v;

export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (isHtml(v)) return v.value;
  return escapeHtml(String(v));
}

/** Markup that is trusted as is: only for constants written in this code base. */
export const raw = (value: string): Html => ({ [HTML_BRAND]: true, value });

/** The tagged template: `html\`<p>${name}</p>\``, with `name` escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return raw(out);
}
