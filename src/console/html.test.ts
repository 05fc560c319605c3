import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './html.js';

describe('html template', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const name = `<img src=x onerror="alert('1')">&\``;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;">' +
        '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;</p>',
    );
  });

  it('keeps nested templates and raw constants as markup, and joins arrays', () => {
    const items = ['a<b', 'c'].map((s) => html`<li>${s}</li>`);
    expect(
      html`<ul>
          ${items}
        </ul>
        ${raw('<hr>')}`.value.replace(/>\s+</g, '><'),
    ).toBe('<ul><li>a&lt;b</li><li>c</li></ul><hr>');
  });

  it('renders nothing for null, undefined and false; numbers and true as text', () => {
    expect(html`${null}${undefined}${false}|${0}|${true}`.value).toBe('|0|true');
  });

  it('a look-alike object is escaped as text, not trusted', () => {
    const fake = { value: '<b>' } as unknown as string;
    expect(html`${fake}`.value).toBe(escapeHtml('[object Object]'));
  });
});
