import { describe, expect, it } from 'vitest';
import { escapeHtml, html, prettyJson, trusted } from './escape.js';

describe('console escaping', () => {
  it('escapes every interpolated value, in content and in quoted attributes', () => {
    const value = '"><img src=x onerror=alert(1)>';
    const out = html`<a title="${value}">${'<script>alert(2)</script>'}</a>`.value;
    expect(out).toBe('<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(2)&lt;/script&gt;</a>');
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('passes nested templates and trusted markup through, renders arrays and drops undefined, null and false', () => {
    const items = ['<b>', 'c'].map((s) => html`<li>${s}</li>`);
    expect(html`<ul>${items}</ul>${undefined}${null}${false}${0}`.value).toBe('<ul><li>&lt;b&gt;</li><li>c</li></ul>0');
    expect(html`${trusted('<rect/>')}`.value).toBe('<rect/>');
  });

  it('pretty-prints JSON as text the template then escapes', () => {
    expect(html`<pre>${prettyJson({ a: '</pre><script>' })}</pre>`.value).toBe(
      '<pre>{\n  &quot;a&quot;: &quot;&lt;/pre&gt;&lt;script&gt;&quot;\n}</pre>',
    );
  });
});
