/**
 * HTTP scenarios: node:http2 and node:http clients, through the proxy, to the
 * node:http2, node:http and nginx backends. Every successful body is checked
 * by digest; every failure on purpose must end with its own status.
 */
import type http2 from 'node:http2';
import { h1Call, h2Call, h2Connect, closeH2, type CallResult, type CallSpec } from './clients.js';
import type { ListenerName } from './environment.js';
import { bodyDigest, isBodyPrefix } from './payload.js';
import { between, pick, pickSize, type Outcome, type Scenario, type ScenarioContext } from './scenario.js';

type Client = 'h2' | 'h1';
type Backend = 'h2' | 'h1';

/** The response as a label: status, the proxy's error code, and how it ended if not normally. */
export function httpLabel(r: CallResult): string {
  if (r.cancelled) return 'cancelled';
  let l = r.status === undefined ? 'no-response' : String(r.status);
  const code = r.headers['switchyard-error'];
  if (typeof code === 'string') l += `:${code}`;
  if (!r.ended) l += `+${r.rstCode !== undefined ? `rst:${r.rstCode}` : (r.error ?? 'unfinished')}`;
  return l;
}

interface Connection {
  call(spec: CallSpec): Promise<CallResult>;
  /** The stream window a response body meets (bodies stay within a few hundred windows). */
  window: number;
  describe: string;
}

/** Largest body for a receive window: tiny windows get tiny bodies (256 window round trips at most). */
function capFor(ctx: ScenarioContext, window: number): number {
  return Math.min(ctx.limits.maxBody, window * 256);
}

/**
 * An HTTP/2 connection: half the time one of the long-lived ones, half the
 * time a new one with random windows (1 byte to 16 MiB per stream), closed
 * when the scenario ends.
 */
async function h2Connection(ctx: ScenarioContext, listener?: ListenerName): Promise<Connection> {
  const { env, rng } = ctx;
  const alive = env.longH2.filter((l) => l.lost === undefined && (listener === undefined || l.listener === listener));
  if (rng() < 0.5 && alive.length > 0) {
    const l = pick(rng, alive);
    return { call: (spec) => h2Call(l.session, spec, ctx.signal), window: l.streamWindow, describe: `long-lived ${l.label}` };
  }
  const l = listener ?? pick(rng, ['edge', 'tight'] as const);
  const streamWindow = Math.min(16 << 20, Math.max(1, Math.round(2 ** (rng() * 24))));
  const connectionWindow = Math.max(65_535, Math.round(2 ** (16 + rng() * 8)));
  const session: http2.ClientHttp2Session = await h2Connect(env.port(l), streamWindow, connectionWindow);
  ctx.defer(() => closeH2(session));
  return { call: (spec) => h2Call(session, spec, ctx.signal), window: streamWindow, describe: `new ${l}/${streamWindow}/${connectionWindow}` };
}

/** An HTTP/1.1 connection: mostly from the keep-alive pool, sometimes one of its own. */
function h1Connection(ctx: ScenarioContext): Connection {
  const own = ctx.rng() < 0.3;
  const agent = own ? false : ctx.env.h1Agent;
  return { call: (spec) => h1Call(ctx.env.port('edge'), agent, spec, ctx.signal), window: Infinity, describe: own ? 'h1 own connection' : 'h1 pooled' };
}

function connection(ctx: ScenarioContext, client: Client): Promise<Connection> {
  return client === 'h2' ? h2Connection(ctx) : Promise.resolve(h1Connection(ctx));
}

function outcome(label: string, r: CallResult | undefined, detail: string, up = 0): Outcome {
  const extra = r === undefined ? '' : ` status=${r.status} bytes=${r.bytes} ended=${r.ended} rst=${r.rstCode} error=${r.error}`;
  return { label, down: r?.bytes ?? 0, up, detail: detail + extra };
}

/** A 200 whose body must be the body (seed, size). */
function expectBody(r: CallResult, seed: number, size: number, detail: string, up = 0): Outcome {
  const label = httpLabel(r);
  if (label !== '200') return outcome(label, r, detail, up);
  if (r.bytes !== size || r.sha256 !== bodyDigest(seed, size)) return outcome('bad-digest', r, `${detail} want ${size} bytes`, up);
  return outcome('200', r, detail, up);
}

function httpScenarios(client: Client, backend: Backend): Scenario[] {
  const pre = `/${backend}/x`;
  const kind = (op: string) => `${client}→${backend} ${op}`;
  return [
    {
      kind: kind('download'),
      weight: 6,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, capFor(ctx, c.window));
        const r = await c.call({ method: 'GET', path: `${pre}?op=download&seed=${ctx.seed}&size=${size}` });
        return expectBody(r, ctx.seed, size, `${c.describe} size=${size}`);
      },
    },
    {
      kind: kind('slow-download'),
      weight: 3,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const cap = capFor(ctx, c.window);
        const size = pickSize(ctx.rng, cap, Math.min(cap, 256 * 1024));
        const slow = { everyBytes: Math.max(16 * 1024, Math.floor(size / 8)), pauseMs: between(ctx.rng, 5, 40), maxPauses: 8 };
        const r = await c.call({ method: 'GET', path: `${pre}?op=download&seed=${ctx.seed}&size=${size}`, slow });
        return expectBody(r, ctx.seed, size, `${c.describe} size=${size} pause=${slow.pauseMs}ms`);
      },
    },
    {
      kind: kind('upload'),
      weight: 4,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, ctx.limits.maxBody);
        const r = await c.call({ method: 'POST', path: `${pre}?op=upload`, upload: { seed: ctx.seed, size, chunk: between(ctx.rng, 1, 64) * 1024 } });
        const label = httpLabel(r);
        const detail = `${c.describe} size=${size}`;
        if (label !== '200') return outcome(label, r, detail);
        if (r.headers['x-request-sha256'] !== bodyDigest(ctx.seed, size) || r.headers['x-request-bytes'] !== String(size)) {
          return outcome('bad-digest', r, `${detail} backend saw ${r.headers['x-request-bytes']} bytes`);
        }
        return outcome('200', r, detail, size);
      },
    },
    {
      kind: kind('echo'),
      weight: 3,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, capFor(ctx, c.window));
        const r = await c.call({ method: 'POST', path: `${pre}?op=echo`, upload: { seed: ctx.seed, size } });
        return expectBody(r, ctx.seed, size, `${c.describe} size=${size}`, size);
      },
    },
    {
      kind: kind('cancel-response'),
      weight: 2,
      expect: ['cancelled'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const cap = capFor(ctx, c.window);
        const size = pickSize(ctx.rng, cap, Math.min(cap, 128 * 1024));
        const at = Math.max(1, Math.floor(size * ctx.rng() * 0.9));
        const r = await c.call({ method: 'GET', path: `${pre}?op=download&seed=${ctx.seed}&size=${size}`, cancelDownAt: at, keep: at });
        const detail = `${c.describe} size=${size} cancel at ${at}`;
        if (r.cancelled && !isBodyPrefix(ctx.seed, r.kept)) return outcome('bad-prefix', r, detail);
        return outcome(httpLabel(r), r, detail);
      },
    },
    {
      kind: kind('cancel-request'),
      weight: 2,
      expect: ['cancelled'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, ctx.limits.maxBody, 64 * 1024);
        const stopAt = Math.floor(size * (0.1 + 0.8 * ctx.rng()));
        const r = await c.call({ method: 'POST', path: `${pre}?op=upload`, upload: { seed: ctx.seed, size, stopAt } });
        return outcome(httpLabel(r), r, `${c.describe} size=${size} cancel after ${stopAt} sent`, stopAt);
      },
    },
    {
      kind: kind('upstream-reset'),
      weight: 2,
      // After the response has started the proxy can only cut it: RST_STREAM
      // INTERNAL_ERROR towards HTTP/2 clients, a closed connection towards
      // HTTP/1.1 clients (docs/errors.md). An HTTP/1.1 client may see the
      // reset before the response head it had not flushed yet: no response
      // at all, ECONNRESET, which is as much a failure.
      expect: client === 'h2' ? ['200+rst:2'] : ['200+aborted', 'no-response+ECONNRESET'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const after = pickSize(ctx.rng, Math.min(capFor(ctx, c.window), 512 * 1024));
        const r = await c.call({ method: 'GET', path: `${pre}?op=reset&seed=${ctx.seed}&after=${after}`, keep: after });
        const detail = `${c.describe} reset after ${after}`;
        if (r.bytes > after || !isBodyPrefix(ctx.seed, r.kept)) return outcome('bad-prefix', r, detail);
        return outcome(httpLabel(r), r, detail);
      },
    },
    {
      kind: kind('reset-before-headers'),
      weight: 1,
      expect: backend === 'h2' ? ['502:SWY_ERR_UPSTREAM_RESET'] : ['502:SWY_ERR_CONNECTION_LOST'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const r = await c.call({ method: 'GET', path: `${pre}?op=reset&after=-1` });
        return outcome(httpLabel(r), r, c.describe);
      },
    },
    {
      kind: kind('early-413'),
      weight: 2,
      expect: ['413'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, Math.min(capFor(ctx, c.window), 8 * 1024));
        const upload = pickSize(ctx.rng, ctx.limits.maxBody, 1);
        const r = await c.call({ method: 'POST', path: `${pre}?op=early&seed=${ctx.seed}&size=${size}`, upload: { seed: ctx.seed + 1, size: upload } });
        const detail = `${c.describe} answer ${size} bytes, upload ${upload}`;
        const label = httpLabel(r);
        if (label === '413' && (r.bytes !== size || r.sha256 !== bodyDigest(ctx.seed, size))) return outcome('bad-digest', r, detail);
        return outcome(label, r, detail);
      },
    },
    {
      kind: kind('route-timeout'),
      weight: 1,
      expect: ['504:SWY_ERR_TIMEOUT'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const r = await c.call({ method: 'GET', path: `/timeout/${backend}/x?op=hold&delay=20000` });
        return outcome(httpLabel(r), r, c.describe);
      },
    },
    {
      kind: kind('retry'),
      weight: 2,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, capFor(ctx, c.window));
        const mode = pick(ctx.rng, ['503', 'reset']);
        const r = await c.call({ method: 'GET', path: `/retry/${backend}/x?op=fail-once&mode=${mode}&id=${ctx.id}&seed=${ctx.seed}&size=${size}` });
        const detail = `${c.describe} first attempt ${mode}, size=${size}`;
        if (httpLabel(r) === '200' && r.headers['x-retried'] !== '1') return outcome('not-retried', r, detail);
        return expectBody(r, ctx.seed, size, detail);
      },
    },
  ];
}

function nginxScenarios(client: Client): Scenario[] {
  const kind = (op: string) => `${client}→nginx ${op}`;
  return [
    {
      kind: kind('download'),
      weight: 5,
      expect: ['200'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const files = ctx.env.nginx!.files.filter((f) => f.size <= capFor(ctx, c.window));
        const f = pick(ctx.rng, files);
        const slow = ctx.rng() < 0.3 ? { everyBytes: Math.max(16 * 1024, Math.floor(f.size / 8)), pauseMs: between(ctx.rng, 5, 40), maxPauses: 8 } : undefined;
        const r = await c.call({ method: 'GET', path: f.path, slow });
        const detail = `${c.describe} ${f.path}${slow ? ` pause=${slow.pauseMs}ms` : ''}`;
        const label = httpLabel(r);
        if (label === '200' && (r.bytes !== f.size || r.sha256 !== f.sha256)) return outcome('bad-digest', r, detail);
        return outcome(label, r, detail);
      },
    },
    {
      kind: kind('early-413'),
      weight: 1,
      expect: ['413'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, ctx.limits.maxBody, 2048);
        // nginx compares the announced content-length with client_max_body_size before reading.
        const r = await c.call({ method: 'POST', path: '/nginx/limit', headers: { 'content-length': String(size) }, upload: { seed: ctx.seed, size } });
        return outcome(httpLabel(r), r, `${c.describe} upload ${size}`);
      },
    },
    {
      kind: kind('sink'),
      weight: 1,
      expect: ['204'],
      async run(ctx) {
        const c = await connection(ctx, client);
        const size = pickSize(ctx.rng, Math.min(ctx.limits.maxBody, 1 << 20));
        const r = await c.call({ method: 'POST', path: '/nginx/sink', headers: { 'content-length': String(size) }, upload: { seed: ctx.seed, size } });
        return outcome(httpLabel(r), r, `${c.describe} upload ${size}`);
      },
    },
  ];
}

/** A new connection with a window of 1 byte to 1 KiB per stream, and a body of up to 256 windows. */
function tinyWindowScenario(): Scenario {
  return {
    kind: 'h2→h2 tiny-window download',
    weight: 2,
    expect: ['200'],
    async run(ctx) {
      const window = between(ctx.rng, 1, 1024);
      const l = pick(ctx.rng, ['edge', 'tight'] as const);
      const session = await h2Connect(ctx.env.port(l), window, 65_535);
      ctx.defer(() => closeH2(session));
      const size = between(ctx.rng, 0, window * 256);
      const r = await h2Call(session, { method: 'GET', path: `/h2/x?op=download&seed=${ctx.seed}&size=${size}` }, ctx.signal);
      return expectBody(r, ctx.seed, size, `new ${l}/${window} size=${size}`);
    },
  };
}

export function allHttpScenarios(withNginx: boolean): Scenario[] {
  const out: Scenario[] = [];
  for (const client of ['h2', 'h1'] as const) {
    for (const backend of ['h2', 'h1'] as const) out.push(...httpScenarios(client, backend));
    if (withNginx) out.push(...nginxScenarios(client));
  }
  out.push(tinyWindowScenario());
  return out;
}
