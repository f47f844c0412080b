// What the app tells a user about errors it knows (static/messages.js).
// Run by static/customui_test.go (make test), or by hand:
// node --experimental-detect-module --test forge/test/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeError } from '../../static/messages.js';

test('an inactive licence is explained, not called a bug', () => {
  const server = "This site's licence for Secrets is not active, so secrets cannot be added or changed.";
  assert.equal(describeError({ code: 'licence_inactive', serverMessage: server }), server);
  const fallback = describeError({ code: 'licence_inactive' });
  assert.match(fallback, /licence/);
  assert.notEqual(fallback, describeError({ code: 'internal' }));
});
