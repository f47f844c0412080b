// The Forge macro's name comes from its config, as text, bounded like the
// Connect macro's; anything else there is no name.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { macroNameOf } from '../../static/forge-app.js';

test('macroNameOf reads the config name, trimmed and bounded', () => {
  assert.equal(macroNameOf({ extension: { config: { name: '  Team keys ' } } }), 'Team keys');
  assert.equal(macroNameOf({ extension: { config: { name: 'x'.repeat(150) } } }), 'x'.repeat(100));
  assert.equal(macroNameOf({ extension: { config: { name: '<b>bold</b>' } } }), '<b>bold</b>');
});

test('macroNameOf gives no name without a usable config', () => {
  for (const context of [undefined, null, {}, { extension: {} }, { extension: { config: null } },
    { extension: { config: 'name' } }, { extension: { config: { name: { toString: () => 'x' } } } },
    { extension: { config: { name: '   ' } } }]) {
    assert.equal(macroNameOf(context), '');
  }
});
