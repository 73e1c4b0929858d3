/**
 * `switchyard identity init|issue`: a trust anchor and an issuer for a
 * trust domain, and workload certificates (SPIFFE X.509-SVIDs) signed by the
 * issuer. The certificate library is loaded only once arguments are checked.
 * Exit status 0 = done, 1 = failed (files, names), 2 = usage error.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSpiffeId, pathError, spiffeIdOf, trustDomainError } from '../security/spiffe-id.js';
import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';

export const IDENTITY_USAGE = `Usage:
  switchyard identity init [--dir DIR] [--trust-domain DOMAIN] [--anchor-ttl 8760h]
                           [--issuer-ttl 2160h] [--no-name-constraint] [--force]
  switchyard identity init --new-issuer [--dir DIR] [--issuer-ttl 2160h]
  switchyard identity issue NAME [--dir DIR] [--ttl 24h] [--out DIR] [--dns NAME]…

init makes a trust anchor (self-signed root, ECDSA P-256) and an issuer
(intermediate signed by it) for a SPIFFE trust domain, and prints the
"identity" section of a configuration that uses them:
  DIR/ca.crt       trust anchor: every peer verifies with it
  DIR/ca.key       its key: keep it offline; it only makes new issuers
  DIR/issuer.crt   issuer (CA, path length 0), DIR/issuer.key its key
Existing files are not replaced without --force. The anchor is name-
constrained to the trust domain (spiffe:// URIs of other domains are
refused by verifiers) unless --no-name-constraint. --new-issuer keeps the
trust anchor in DIR and replaces the issuer (rotation: running proxies use
the new issuer from their next renewal, peers need nothing new).

issue makes a workload certificate whose only URI SAN is
spiffe://TRUST-DOMAIN/NAME (NAME like ns/prod/sa/web, or a whole SPIFFE ID),
for both server and client use, signed by DIR/issuer.crt. It writes
OUT/NAME.crt (the certificate followed by the issuer) and OUT/NAME.key,
"/" in NAME becoming "-", replacing earlier ones.

Options:
  --dir DIR             where the anchor and issuer are (default ./identity)
  --trust-domain D      SPIFFE trust domain (init; default cluster.local)
  --anchor-ttl, --issuer-ttl, --ttl
                        lifetimes: 8760h, 90d, 24h, 30m (units d, h, m, s); a
                        certificate never outlives the one that signed it
  --out DIR             where issue writes (default: the current directory)
  --dns NAME            also a DNS SAN (repeatable, or comma-separated)
  -h, --help            show this help

Exit status: 0 done, 1 failed (bad name, unreadable or missing files), 2 usage error.`;

class Failure extends Error {}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 };

/** Certificate lifetimes are longer than the configuration's durations allow (days, a year): `90d`, `8760h`, `1h30m`. */
export function parseLifetime(flag: string, text: string): number {
  const parts = /^(?:\d+(?:\.\d+)?[dhms])+$/.test(text) ? text.match(/\d+(?:\.\d+)?[dhms]/g)! : null;
  if (parts === null) throw new UsageError(`--${flag} "${text}": expected a duration such as 24h, 90d, 8760h or 30m`);
  const ms = parts.reduce((sum, p) => sum + Number(p.slice(0, -1)) * UNIT_MS[p.slice(-1)]!, 0);
  if (ms < 60_000) throw new UsageError(`--${flag} "${text}": must be at least 1m`);
  if (ms > 100 * 365 * 86_400_000) throw new UsageError(`--${flag} "${text}": must be at most 100 years`);
  return ms;
}

const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** `--dns` may repeat, which the common parser does not keep: collected here first. */
function takeDns(args: readonly string[]): { dns: string[]; rest: string[] } {
  const dns: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let v: string | undefined;
    if (a === '--dns') {
      v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError('--dns needs a value');
    } else if (a.startsWith('--dns=')) {
      v = a.slice('--dns='.length);
    } else {
      rest.push(a);
      continue;
    }
    for (const d of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      if (d.length > 253 || !DNS_NAME.test(d)) throw new UsageError(`--dns "${d}" is not a DNS name`);
      dns.push(d.toLowerCase());
    }
  }
  return { dns, rest };
}

function onlyFlags(p: ParsedArgs, allowed: readonly string[]): void {
  for (const k of p.flags.keys()) if (!allowed.includes(k)) throw new UsageError(`unknown option --${k}`);
}

/** Writes through a temporary file and a rename, so a reader never sees half a file; keys are 0600. */
function writeAtomic(path: string, data: string, secret: boolean): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: secret ? 0o600 : 0o644 });
  // The umask may have narrowed or (for an existing name) the mode may differ: set it explicitly.
  chmodSync(tmp, secret ? 0o600 : 0o644);
  renameSync(tmp, path);
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new Failure(`${what} ${path}: cannot read: ${why}`);
  }
}

function day(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function loadCa() {
  return import('../security/ca.js');
}

async function init(p: ParsedArgs, out: NodeJS.WritableStream): Promise<void> {
  onlyFlags(p, ['dir', 'trust-domain', 'anchor-ttl', 'issuer-ttl', 'no-name-constraint', 'force', 'new-issuer', 'help']);
  if (p.positionals.length > 0) throw new UsageError(`init takes no argument (got "${p.positionals[0]}")`);
  const dir = stringFlag(p, 'dir') ?? 'identity';
  const newIssuer = p.flags.get('new-issuer') === true;
  if (newIssuer) for (const f of ['trust-domain', 'anchor-ttl', 'no-name-constraint']) if (p.flags.has(f)) throw new UsageError(`--${f} does not go with --new-issuer (the trust anchor is kept)`);
  const issuerTtl = parseLifetime('issuer-ttl', stringFlag(p, 'issuer-ttl') ?? '2160h');
  const anchorTtl = parseLifetime('anchor-ttl', stringFlag(p, 'anchor-ttl') ?? '8760h');
  let trustDomain = stringFlag(p, 'trust-domain') ?? 'cluster.local';
  const tdErr = trustDomainError(trustDomain);
  if (tdErr !== undefined) throw new UsageError(`--trust-domain: ${tdErr}`);

  const f = { anchor: join(dir, 'ca.crt'), anchorKey: join(dir, 'ca.key'), issuer: join(dir, 'issuer.crt'), issuerKey: join(dir, 'issuer.key') };
  const targets = newIssuer ? [f.issuer, f.issuerKey] : [f.anchor, f.anchorKey, f.issuer, f.issuerKey];
  const existing = targets.filter((t) => existsSync(t));
  if (existing.length > 0 && p.flags.get('force') !== true && !newIssuer) {
    throw new Failure(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; a new trust anchor means every peer must be given the new ca.crt. Use --force to replace, or --new-issuer to keep the anchor and replace only the issuer`);
  }

  const ca = await loadCa();
  let anchor: import('../security/ca.js').Signer;
  let anchorNotAfter: number;
  if (newIssuer) {
    try {
      anchor = await ca.loadSigner(readFile(f.anchor, 'trust anchor'), readFile(f.anchorKey, 'trust anchor key'), { cert: f.anchor, key: f.anchorKey });
    } catch (err) {
      throw new Failure((err as Error).message);
    }
    if (anchor.trustDomain === '') throw new Failure(`${f.anchor} has no spiffe:// URI SAN: not a trust anchor made by switchyard identity init`);
    trustDomain = anchor.trustDomain;
    anchorNotAfter = anchor.notAfter;
  } else {
    mkdirSync(dir, { recursive: true });
    const a = await ca.createTrustAnchor({ trustDomain, ttlMs: anchorTtl, nameConstraint: p.flags.get('no-name-constraint') !== true });
    anchor = await ca.loadSigner(a.cert, a.key, { cert: f.anchor, key: f.anchorKey });
    writeAtomic(f.anchorKey, a.key, true);
    writeAtomic(f.anchor, a.cert, false);
    anchorNotAfter = a.notAfter;
  }
  const issuer = await ca.createIssuer(anchor, { trustDomain, ttlMs: issuerTtl });
  writeAtomic(f.issuerKey, issuer.key, true);
  writeAtomic(f.issuer, issuer.cert, false);

  const lines = [`Trust domain ${trustDomain}`];
  if (!newIssuer) {
    lines.push(`  ${f.anchor}  trust anchor, valid until ${day(anchorNotAfter)}: give it to every peer`);
    lines.push(`  ${f.anchorKey}  its key (0600): keep it offline; only "identity init --new-issuer" needs it`);
  }
  lines.push(`  ${f.issuer}  issuer, valid until ${day(issuer.notAfter)}${issuer.notAfter < Date.now() + issuerTtl - 60_000 ? ' (capped at the trust anchor\'s expiry)' : ''}`);
  lines.push(`  ${f.issuerKey}  its key (0600)`);
  lines.push('', 'Configuration (set name to each proxy\'s own SPIFFE ID):', '');
  lines.push('identity:');
  lines.push(`  name: spiffe://${trustDomain}/switchyard`);
  lines.push(`  trustAnchor: ${resolve(f.anchor)}`);
  lines.push('  issuer:');
  lines.push(`    cert: ${resolve(f.issuer)}`);
  lines.push(`    key: ${resolve(f.issuerKey)}`);
  lines.push('  ttl: 24h');
  lines.push('  renewAt: 70');
  out.write(`${lines.join('\n')}\n`);
}

async function issue(p: ParsedArgs, dns: string[], out: NodeJS.WritableStream): Promise<void> {
  onlyFlags(p, ['dir', 'ttl', 'out', 'trust-domain', 'help']);
  if (p.positionals.length === 0) throw new UsageError('issue needs a NAME, such as ns/prod/sa/web');
  if (p.positionals.length > 1) throw new UsageError(`issue takes one NAME (got ${p.positionals.map((s) => `"${s}"`).join(', ')})`);
  const name = p.positionals[0]!;
  const dir = stringFlag(p, 'dir') ?? 'identity';
  const outDir = stringFlag(p, 'out') ?? '.';
  const ttl = parseLifetime('ttl', stringFlag(p, 'ttl') ?? '24h');
  const wantedDomain = stringFlag(p, 'trust-domain');

  // The name is checked before anything is read or loaded.
  let path: string;
  let nameDomain: string | undefined;
  if (name.startsWith('spiffe://')) {
    const id = parseSpiffeId(name);
    if ('error' in id) throw new Failure(`invalid name: ${id.error}`);
    if (id.path === '') throw new Failure(`invalid name "${name}": a workload's SPIFFE ID needs a path (the bare trust domain names the CA)`);
    path = id.path.slice(1);
    nameDomain = id.trustDomain;
  } else {
    const err = pathError(name);
    if (err !== undefined) throw new Failure(`invalid name: ${err} (a SPIFFE path such as ns/prod/sa/web)`);
    path = name.startsWith('/') ? name.slice(1) : name;
  }

  const certFile = join(dir, 'issuer.crt');
  const keyFile = join(dir, 'issuer.key');
  if (!existsSync(certFile) && !existsSync(keyFile)) throw new Failure(`no issuer in ${dir}: ${certFile} and ${keyFile} do not exist (make them with "switchyard identity init --dir ${dir}")`);
  const certPem = readFile(certFile, 'issuer certificate');
  const keyPem = readFile(keyFile, 'issuer key');
  const ca = await loadCa();
  let issuer: import('../security/ca.js').Signer;
  try {
    issuer = await ca.loadSigner(certPem, keyPem, { cert: certFile, key: keyFile });
  } catch (err) {
    throw new Failure((err as Error).message);
  }
  const trustDomain = nameDomain ?? wantedDomain ?? issuer.trustDomain;
  if (trustDomain === '') throw new Failure(`${certFile} names no trust domain (no spiffe:// URI SAN): give --trust-domain`);
  for (const [what, d] of [['the name', nameDomain], ['--trust-domain', wantedDomain]] as const) {
    if (d !== undefined && issuer.trustDomain !== '' && d !== issuer.trustDomain) {
      throw new Failure(`${what} is in trust domain "${d}", but ${certFile} issues for "${issuer.trustDomain}"`);
    }
  }
  if (nameDomain !== undefined && wantedDomain !== undefined && nameDomain !== wantedDomain) {
    throw new Failure(`the name is in trust domain "${nameDomain}", not "${wantedDomain}"`);
  }
  const tdErr = trustDomainError(trustDomain);
  if (tdErr !== undefined) throw new Failure(tdErr);

  const spiffeId = spiffeIdOf(trustDomain, path);
  const made = await ca.issueWorkload(issuer, { spiffeId, dns, ttlMs: ttl });
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, path.replaceAll('/', '-'));
  writeAtomic(`${base}.key`, made.key, true);
  writeAtomic(`${base}.crt`, made.chain, false);
  const capped = made.notAfter < Date.now() + ttl - 60_000;
  out.write(
    [
      spiffeId,
      `  ${base}.crt  certificate + issuer, valid until ${day(made.notAfter)}${capped ? ` (capped at the issuer's expiry)` : ''}`,
      `  ${base}.key  its key (0600)`,
      ...(dns.length > 0 ? [`  DNS names: ${dns.join(', ')}`] : []),
      `Peers verify it with ${join(dir, 'ca.crt')}.`,
    ].join('\n') + '\n',
  );
}

export async function runIdentity(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      if (sub === undefined) {
        err.write(`switchyard identity: missing subcommand (init or issue)\n\n${IDENTITY_USAGE}\n`);
        return 2;
      }
      out.write(`${IDENTITY_USAGE}\n`);
      return 0;
    }
    if (sub !== 'init' && sub !== 'issue') throw new UsageError(`unknown subcommand "${sub}" (init or issue)`);
    const { dns, rest: others } = takeDns(rest);
    const p = parseArgs(others, ['help', 'force', 'no-name-constraint', 'new-issuer']);
    if (p.flags.has('help')) {
      out.write(`${IDENTITY_USAGE}\n`);
      return 0;
    }
    if (sub === 'init') {
      if (dns.length > 0) throw new UsageError('--dns goes with issue, not init');
      await init(p, out);
    } else {
      await issue(p, dns, out);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`switchyard identity: ${e.message}\n\n${IDENTITY_USAGE}\n`);
      return 2;
    }
    if (e instanceof Failure) {
      err.write(`switchyard identity ${sub}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
