import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyConfig } from '../../../bench/lib/haproxy.js';
import { nginxProxyConfig } from '../../../bench/lib/nginx.js';
import { parseSystems } from '../../../bench/lib/systems.js';
import { pinnedCommand } from '../../../bench/lib/cores.js';

const backends = [
  { host: '127.0.0.1', port: 8001 },
  { host: '127.0.0.1', port: 8002 },
];

test('--systems takes row ids, and a kind for both of its rows, in table order', () => {
  assert.deepEqual(parseSystems('switchyard,haproxy'), ['haproxy-default', 'haproxy-tuned', 'switchyard']);
  assert.deepEqual(parseSystems('nginx-tuned,direct'), ['direct', 'nginx-tuned']);
  assert.throws(() => parseSystems('envoy'), /--systems: unknown system "envoy"/);
});

test('HAProxy default has no tune lines and the default http-reuse; tuned has both', () => {
  const def = haproxyConfig({ port: 9000, backends, balance: 'roundrobin', tuned: false });
  assert.doesNotMatch(def, /tune\./);
  assert.doesNotMatch(def, /http-reuse/);
  assert.match(def, /nbthread 1/);
  assert.match(def, /bind 127\.0\.0\.1:9000 proto h2/);
  assert.match(def, /server s2 127\.0\.0\.1:8002 proto h2/);
  const tuned = haproxyConfig({ port: 9000, backends, balance: 'roundrobin' });
  assert.match(tuned, /tune\.h2\.initial-window-size/);
  assert.match(tuned, /http-reuse always/);
});

test('HAProxy with HTTP/1.1 clients and servers binds and connects without proto h2', () => {
  const cfg = haproxyConfig({ port: 9000, backends, balance: 'roundrobin', frontend: 'http1', servers: 'http1' });
  assert.match(cfg, /bind 127\.0\.0\.1:9000\n/);
  assert.doesNotMatch(cfg, /proto h2/);
});

test('nginx default pools 32 upstream connections with default upstream limits; tuned keeps them for good', () => {
  const def = nginxProxyConfig({ port: 9000, backends, balance: 'round-robin', tuned: false }, '/tmp/x');
  assert.match(def, /keepalive 32;/);
  assert.doesNotMatch(def, /keepalive_timeout/);
  assert.doesNotMatch(def, /http2_max_concurrent_streams/);
  assert.match(def, /grpc_pass grpc:\/\/backends;/);
  const tuned = nginxProxyConfig({ port: 9000, backends, balance: 'round-robin', keepalive: 1024 }, '/tmp/x');
  assert.match(tuned, /keepalive 1024;/);
  assert.match(tuned, /http2_max_concurrent_streams 1000;/);
});

test('nginx to HTTP/1.1 upstreams uses proxy_pass with HTTP/1.1 and no Connection header, so the pool is used', () => {
  const cfg = nginxProxyConfig({ port: 9000, backends, balance: 'round-robin', tuned: false, frontend: 'http1', upstream: 'http1' }, '/tmp/x');
  assert.match(cfg, /listen 127\.0\.0\.1:9000;/);
  assert.match(cfg, /proxy_pass http:\/\/backends;/);
  assert.match(cfg, /proxy_http_version 1\.1;/);
  assert.match(cfg, /proxy_set_header Connection "";/);
});

test('a pinned command runs under taskset on the given cores; unpinned it is unchanged', () => {
  assert.deepEqual(pinnedCommand({ taskset: '/usr/bin/taskset', cpus: '1' }, 'haproxy', ['-db']), [
    '/usr/bin/taskset',
    ['-c', '1', 'haproxy', '-db'],
  ]);
  assert.deepEqual(pinnedCommand(undefined, 'haproxy', ['-db']), ['haproxy', ['-db']]);
});
