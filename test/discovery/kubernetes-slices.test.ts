import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSlices, missingPortMessage, parseSlice, sameParsedSlice, type EndpointSliceObject, type SliceEndpoint } from '../../src/discovery/kubernetes-slices.js';

function slice(endpoints: SliceEndpoint[], ports: EndpointSliceObject['ports'] = [{ name: 'grpc', port: 8080, protocol: 'TCP' }], addressType = 'IPv4'): EndpointSliceObject {
  return { metadata: { name: 's' }, addressType, ports, endpoints };
}

test('kubernetes slices: nil conditions mean ready and serving, not terminating', () => {
  const [ep] = parseSlice(slice([{ addresses: ['10.0.0.1'] }]), 'grpc').endpoints;
  assert.deepEqual(ep, { address: { host: '10.0.0.1', port: 8080 }, id: '10.0.0.1:8080', weight: 1, ready: true, serving: true, terminating: false });
});

test('kubernetes slices: not ready leaves the set; terminating stays only while serving; serving nil follows ready', () => {
  const parsed = parseSlice(
    slice([
      { addresses: ['10.0.0.1'], conditions: { ready: false } },
      { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.0.0.3'], conditions: { ready: false, serving: false, terminating: true } },
      { addresses: ['10.0.0.4'], conditions: { ready: false, terminating: true } },
      { addresses: ['10.0.0.5'], conditions: { ready: true, serving: null, terminating: null } },
    ]),
    'grpc',
  );
  assert.deepEqual(
    parsed.endpoints.map((e) => [e.address.host, e.ready, e.serving, e.terminating]),
    [
      ['10.0.0.2', false, true, true],
      ['10.0.0.5', true, true, false],
    ],
  );
  assert.equal(parsed.populated, true);
});

test('kubernetes slices: zone, forZones hints and the pod name are carried; other targetRef kinds give no name', () => {
  const parsed = parseSlice(
    slice([
      { addresses: ['10.0.0.1'], zone: 'eu-1a', hints: { forZones: [{ name: 'eu-1a' }, { name: 'eu-1b' }] }, targetRef: { kind: 'Pod', name: 'greeter-7d9f-abcde' } },
      { addresses: ['10.0.0.2'], targetRef: { kind: 'Node', name: 'node-1' }, hints: { forZones: [] } },
    ]),
    'grpc',
  );
  assert.deepEqual(parsed.endpoints[0], {
    address: { host: '10.0.0.1', port: 8080 },
    id: '10.0.0.1:8080',
    weight: 1,
    ready: true,
    serving: true,
    terminating: false,
    zone: 'eu-1a',
    forZones: ['eu-1a', 'eu-1b'],
    name: 'greeter-7d9f-abcde',
  });
  assert.equal(parsed.endpoints[1]!.name, undefined);
  assert.equal(parsed.endpoints[1]!.forZones, undefined);
});

test('kubernetes slices: the port is found by name or number among TCP ports of the slice itself', () => {
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'grpc', port: 8443 },
    { name: 'metrics', port: 9090, protocol: 'TCP' },
  ];
  const s = slice([{ addresses: ['10.0.0.1'] }], ports);
  assert.equal(parseSlice(s, 'grpc').endpoints[0]!.address.port, 8443, 'nil protocol is TCP');
  assert.equal(parseSlice(s, 9090).endpoints[0]!.address.port, 9090);
  assert.equal(parseSlice(s, 53).hasPort, false, 'a UDP port is not dialled');
  assert.equal(parseSlice(s, 'http').hasPort, false);
  assert.deepEqual(parseSlice(s, 'http').endpoints, []);
  assert.deepEqual(parseSlice(s, 'http').ports, ['dns/53 UDP', 'grpc/8443', 'metrics/9090']);
  // A nil port number means "all ports": nothing to dial.
  assert.equal(parseSlice(slice([{ addresses: ['10.0.0.1'] }], [{ name: 'grpc', port: null }]), 'grpc').hasPort, false);
});

test('kubernetes slices: FQDN slices and unusable addresses are skipped; only the first address counts; IPv6 is lower-cased', () => {
  assert.deepEqual(parseSlice(slice([{ addresses: ['api.example.com'] }], undefined, 'FQDN'), 'grpc').endpoints, []);
  const v4 = parseSlice(slice([{ addresses: ['fd00::1'] }, { addresses: [] }, { addresses: ['10.0.0.7', '10.0.0.8'] }]), 'grpc');
  assert.deepEqual(v4.endpoints.map((e) => e.address.host), ['10.0.0.7']);
  const v6 = parseSlice(slice([{ addresses: ['FD00::A'] }, { addresses: ['10.0.0.1'] }], undefined, 'IPv6'), 'grpc');
  assert.deepEqual(v6.endpoints.map((e) => e.address.host), ['fd00::a']);
});

test('kubernetes slices: merged, a duplicate address keeps the first copy unless a later one is ready and it is not', () => {
  const a = parseSlice(slice([{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: true, terminating: true } }, { addresses: ['10.0.0.2'] }]), 'grpc');
  const b = parseSlice(slice([{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'], zone: 'second' }, { addresses: ['10.0.0.3'] }]), 'grpc');
  const c = parseSlice(slice([{ addresses: ['10.0.0.2'] }], [{ name: 'grpc', port: 9443 }]), 'grpc');
  const merged = mergeSlices([a, b, c]);
  assert.deepEqual(
    merged.map((e) => `${e.address.host}:${e.address.port} ready=${e.ready}${e.zone ? ` ${e.zone}` : ''}`),
    ['10.0.0.1:8080 ready=true', '10.0.0.2:8080 ready=true', '10.0.0.3:8080 ready=true', '10.0.0.2:9443 ready=true'],
  );
});

test('kubernetes slices: a missing port is an error only when slices with endpoints exist and none has it', () => {
  const placeholder = parseSlice({ metadata: { name: 'p' }, addressType: 'IPv4', ports: null, endpoints: [] }, 'grpc');
  assert.equal(missingPortMessage([placeholder], 'grpc'), undefined, 'the controller placeholder of a Service with no pods');
  const http = parseSlice(slice([{ addresses: ['10.0.0.1'] }], [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }]), 'grpc');
  const grpc = parseSlice(slice([{ addresses: ['10.0.0.2'] }]), 'grpc');
  assert.equal(missingPortMessage([http, grpc], 'grpc'), undefined);
  assert.equal(missingPortMessage([placeholder, http], 'grpc'), 'no EndpointSlice with endpoints has TCP port name "grpc"; they carry admin/9000, http/80');
  assert.equal(missingPortMessage([http], 8080), 'no EndpointSlice with endpoints has TCP port number 8080; they carry admin/9000, http/80');
  // Endpoints all out of rotation still show that the port exists.
  const notReady = parseSlice(slice([{ addresses: ['10.0.0.3'], conditions: { ready: false } }]), 'grpc');
  assert.equal(missingPortMessage([http, notReady], 'grpc'), undefined);
});

test('kubernetes slices: a slice update that changes nothing used compares equal', () => {
  const base = slice([{ addresses: ['10.0.0.1'], zone: 'a', hints: { forZones: [{ name: 'a' }] } }]);
  const relabelled = { ...base, metadata: { name: 's', resourceVersion: '9' } };
  assert.equal(sameParsedSlice(parseSlice(base, 'grpc'), parseSlice(relabelled, 'grpc')), true);
  const flipped = slice([{ addresses: ['10.0.0.1'], zone: 'a', hints: { forZones: [{ name: 'a' }] }, conditions: { ready: false, serving: true, terminating: true } }]);
  assert.equal(sameParsedSlice(parseSlice(base, 'grpc'), parseSlice(flipped, 'grpc')), false);
  const hinted = slice([{ addresses: ['10.0.0.1'], zone: 'a', hints: { forZones: [{ name: 'b' }] } }]);
  assert.equal(sameParsedSlice(parseSlice(base, 'grpc'), parseSlice(hinted, 'grpc')), false);
});

test('kubernetes slices: a slice parsed again keeps the objects of endpoints that did not change', () => {
  const first = parseSlice(slice([{ addresses: ['10.0.0.1'] }, { addresses: ['fd00::2'] }]), 'grpc');
  const v6 = parseSlice(slice([{ addresses: ['FD00::2'] }], undefined, 'IPv6'), 'grpc');
  assert.equal(v6.endpoints[0]!.id, '[fd00::2]:8080');
  const again = parseSlice(slice([{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.3'], conditions: { ready: true } }]), 'grpc', first);
  assert.equal(again.endpoints[0], first.endpoints[0], 'unchanged: the same object');
  const changed = parseSlice(slice([{ addresses: ['10.0.0.1'], zone: 'eu-1a' }]), 'grpc', again);
  assert.notEqual(changed.endpoints[0], again.endpoints[0], 'changed: a new object');
  assert.equal(changed.endpoints[0]!.zone, 'eu-1a');
});
