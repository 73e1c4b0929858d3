import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import type { IdentitySource } from '../../src/security/identity-source.js';
import { loadPem, type PemMaterial } from '../../src/security/pem-files.js';
import { ServerTls, type ServerTlsOptions } from '../../src/security/server-tls.js';
import { TICKET_ROTATION_MS, TICKET_SECRET_ENV, ticketKeys } from '../../src/security/session-tickets.js';
import { CLIENT_ID, listenerPki, type ListenerPki } from '../helpers/listener-tls.js';
import type { PemPair } from '../helpers/test-pki.js';
import { waitFor } from '../helpers/wait.js';

/** One "worker": a ServerTls behind its own port, as a listener hands it accepted sockets. */
async function worker(t: TestContext, tlsConfig: { cert: string; key: string; clientCa?: string }, options: ServerTlsOptions, identityOnly = false): Promise<{ port: number; tls: ServerTls; identities: string[] }> {
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web', tls: tlsConfig }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  }, 'test');
  const open = new Set<net.Socket>();
  const identities: string[] = [];
  const listenerTls = config.listeners[0]!.tls!;
  // Without cert/key the listener presents the identity certificate (a top-level setting parseConfig would want set up).
  const st = new ServerTls(identityOnly ? { ...listenerTls, cert: undefined, key: undefined } : listenerTls, 'http2', 'listeners[0].tls', 'edge', (socket, id) => {
    identities.push(`${id} ${socket.isSessionReused() ? 'resumed' : 'full'}`);
    socket.resume();
  }, options);
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    st.accept(socket, Buffer.alloc(0));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    st.close();
    for (const s of open) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as net.AddressInfo).port, tls: st, identities };
}

interface Resumption {
  reused: boolean;
  /** The ticket the server sent on this connection (full handshakes only). */
  session: Buffer | undefined;
}

/** One TLS 1.3 connection offering `session`: whether it resumed, and the ticket it got. */
function connect(port: number, ca: string, session?: Buffer, client?: PemPair): Promise<Resumption> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['h2'], session, cert: client?.certPem, key: client?.keyPem });
    let got: Buffer | undefined;
    socket.on('session', (s: Buffer) => {
      got = s;
      socket.destroy();
      resolve({ reused: false, session: got });
    });
    socket.on('secureConnect', () => {
      // Node's server sends no new ticket on a resumed session: the handshake is the answer.
      // end(), not destroy(): the client's Finished must still reach the server.
      if (socket.isSessionReused()) socket.end(() => resolve({ reused: true, session: undefined }));
    });
    socket.on('error', reject);
  });
}

function pkiFor(t: TestContext): ListenerPki {
  const p = listenerPki();
  t.after(() => p.cleanup());
  return p;
}

test('a ticket issued by one worker resumes on another that shares the secret, and not on one with another secret', async (t) => {
  const p = pkiFor(t);
  const secret = randomBytes(32);
  const conf = { cert: p.server.cert, key: p.server.key };
  const a = await worker(t, conf, { ticketSecret: secret });
  const b = await worker(t, conf, { ticketSecret: secret });
  const other = await worker(t, conf, { ticketSecret: randomBytes(32) });
  const first = await connect(a.port, p.ca.certPem);
  assert.equal(first.reused, false);
  assert.ok(first.session);
  assert.equal((await connect(a.port, p.ca.certPem, first.session)).reused, true);
  assert.equal((await connect(b.port, p.ca.certPem, first.session)).reused, true);
  const refused = await connect(other.port, p.ca.certPem, first.session);
  assert.equal(refused.reused, false, 'another secret: a full handshake');
  assert.ok(refused.session, 'and a new ticket');
});

test('keys change at each period boundary on every worker alike: older tickets make a full handshake, newer ones resume everywhere', async (t) => {
  const p = pkiFor(t);
  const secret = randomBytes(32);
  let now = 5 * TICKET_ROTATION_MS + 1000;
  const clock = (): number => now;
  const conf = { cert: p.server.cert, key: p.server.key };
  const a = await worker(t, conf, { ticketSecret: secret, ticketClock: clock });
  const b = await worker(t, conf, { ticketSecret: secret, ticketClock: clock });
  const old = (await connect(a.port, p.ca.certPem)).session;
  assert.equal(a.tls.tickets.rotate(), false, 'same period: nothing to do');
  now += TICKET_ROTATION_MS;
  assert.equal(a.tls.tickets.rotate(), true);
  assert.equal(b.tls.tickets.rotate(), true);
  assert.deepEqual(a.tls.tickets.current, b.tls.tickets.current);
  assert.equal((await connect(b.port, p.ca.certPem, old)).reused, false);
  const fresh = (await connect(a.port, p.ca.certPem)).session;
  assert.equal((await connect(b.port, p.ca.certPem, fresh)).reused, true);
});

test('a replaced certificate keeps the ticket keys: tickets issued before the reload still resume', async (t) => {
  const p = pkiFor(t);
  const renewed = p.ca.issue('server-2', { dns: ['localhost'], ip: ['127.0.0.1'] });
  const material = (pair: { cert: string; key: string }): PemMaterial => loadPem({ cert: pair.cert, key: pair.key }, 'identity');
  let renew: ((m: PemMaterial) => void) | undefined;
  const identity: IdentitySource = { current: material(p.server), subscribe: (fn) => ((renew = fn), () => (renew = undefined)) };
  let reloads = 0;
  const w = await worker(t, { cert: p.server.cert, key: p.server.key }, { identity, events: { reloaded: () => void reloads++, reloadFailed: (_l, _s, m) => assert.fail(m) } }, true);
  const before = (await connect(w.port, p.ca.certPem)).session;
  renew!(material(renewed));
  assert.equal(reloads, 1);
  assert.equal((await connect(w.port, p.ca.certPem, before)).reused, true);
});

test('mTLS: a resumed session carries the identity of the client certificate verified in its full handshake', async (t) => {
  const p = pkiFor(t);
  const w = await worker(t, { cert: p.server.cert, key: p.server.key, clientCa: p.ca.cert }, {});
  const first = await connect(w.port, p.ca.certPem, undefined, p.client);
  assert.equal((await connect(w.port, p.ca.certPem, first.session, p.client)).reused, true);
  await waitFor(() => w.identities.length === 2, 'both handshakes reported');
  assert.deepEqual(w.identities, [`${CLIENT_ID} full`, `${CLIENT_ID} resumed`]);
});

test('ticket keys: 48 bytes, one set per listener and period; a worker takes the primary secret from its environment and hides it from its own children', () => {
  const s = randomBytes(32);
  assert.equal(ticketKeys(s, 'l', 1).length, 48);
  assert.deepEqual(ticketKeys(s, 'l', 1), ticketKeys(Buffer.from(s), 'l', 1));
  assert.notDeepEqual(ticketKeys(s, 'l', 1), ticketKeys(s, 'l', 2));
  assert.notDeepEqual(ticketKeys(s, 'l', 1), ticketKeys(s, 'm', 1));
  const module = fileURLToPath(new URL('../../src/security/session-tickets.js', import.meta.url));
  const script = `import(${JSON.stringify(module)}).then((m) => console.log(m.ticketSecret().toString('hex'), process.env.${TICKET_SECRET_ENV} === undefined))`;
  const given = s.toString('hex');
  assert.equal(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, [TICKET_SECRET_ENV]: given } }).toString().trim(), `${given} true`);
  const own = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, [TICKET_SECRET_ENV]: 'not hex' } }).toString().trim();
  assert.match(own, /^[0-9a-f]{64} true$/);
  assert.notEqual(own.slice(0, 64), given);
});
