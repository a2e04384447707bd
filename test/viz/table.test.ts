import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { aq, tableHtml, tableText, toTable } from '../../lib/viz/table';

test('tableHtml renders rows as an HTML table with escaped cells, rounded numbers and a caption', () => {
  const html = tableHtml([{ video: 'bear', frames: 82, mean: 0.123456 }, { video: '<b>x</b>', frames: 3, mean: null }], { caption: 'A & B' });
  assert.match(html, /^<div class="propainter-table">/);
  assert.match(html, /A &amp; B/);
  assert.match(html, /<thead[^>]*><tr[^>]*><th[^>]*>video<\/th><th[^>]*>frames<\/th><th[^>]*>mean<\/th><\/tr><\/thead>/);
  assert.equal((html.match(/<tr/g) ?? []).length, 3);
  assert.match(html, /<td[^>]*>bear<\/td><td[^>]*>82<\/td><td[^>]*>0\.1235<\/td>/);
  assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
  assert.doesNotMatch(html, /<b>x<\/b>/);
  assert.match(html, /color:#aaa">–</, 'null cell');
});

test('columns input, arquero tables pass through, row limit note, markdown text', () => {
  const t = toTable({ a: [1, 2, 3], b: ['x', 'y', 'z'] });
  assert.equal(t.numRows(), 3);
  assert.equal(toTable(t), t);
  const grouped = aq().from([{ k: 'a', v: 1 }, { k: 'a', v: 3 }, { k: 'b', v: 5 }]).groupby('k').rollup({ m: aq().op.mean('v') });
  assert.deepEqual(grouped.objects(), [{ k: 'a', m: 2 }, { k: 'b', m: 5 }]);
  const html = tableHtml(t, { limit: 2 });
  assert.equal((html.match(/<tr/g) ?? []).length, 3);
  assert.match(html, /2 of 3 rows shown/);
  const text = tableText(t, { caption: 'cap' });
  assert.match(text, /^cap\n\|a\|b\|/);
  assert.match(text, /\|3\|z\|/);
});
