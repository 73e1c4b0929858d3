import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfigText } from '../../src/config/index.js';

test('the configuration shown in README.md is valid', () => {
  const readme = readFileSync('README.md', 'utf8');
  const m = /```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README.md shows a YAML configuration');
  const config = parseConfigText(m[1]!, 'README.md');
  assert.equal(config.listeners.length, 1);
  assert.ok(config.services.some((s) => s.healthCheck?.type === 'grpc'));
});
