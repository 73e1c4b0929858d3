/**
 * Certificates for tests, made by the openssl command line (ECDSA P-256):
 * a CA, and leaf certificates signed by it with DNS, IP and URI (SPIFFE)
 * SANs. Files live in a temp directory the caller removes with `cleanup()`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PemPair {
  cert: string;
  key: string;
  /** PEM text of the certificate and key. */
  certPem: string;
  keyPem: string;
}

export interface TestCa extends PemPair {
  name: string;
  /** Issues a leaf certificate signed by this CA. */
  issue(name: string, sans: { dns?: string[]; ip?: string[]; uri?: string[] }, options?: { days?: number; notAfter?: string; clientAndServer?: boolean }): PemPair;
}

export interface TestPki {
  dir: string;
  ca(name: string): TestCa;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function testPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'swy-pki-'));
  let serial = 1;
  const pair = (base: string): PemPair => ({
    cert: join(dir, `${base}.crt`),
    key: join(dir, `${base}.key`),
    certPem: readFileSync(join(dir, `${base}.crt`), 'utf8'),
    keyPem: readFileSync(join(dir, `${base}.key`), 'utf8'),
  });
  return {
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    ca(name: string): TestCa {
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
      openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '30', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.crt`], dir);
      const ca = pair(name);
      return {
        ...ca,
        name,
        issue(leaf, sans, options = {}) {
          const base = `${name}-${leaf}`;
          const san = [
            ...(sans.dns ?? []).map((d) => `DNS:${d}`),
            ...(sans.ip ?? []).map((i) => `IP:${i}`),
            ...(sans.uri ?? []).map((u) => `URI:${u}`),
          ].join(',');
          const ext = join(dir, `${base}.ext`);
          writeFileSync(ext, [
            'basicConstraints=critical,CA:FALSE',
            'keyUsage=critical,digitalSignature',
            'extendedKeyUsage=serverAuth,clientAuth',
            san === '' ? '' : `subjectAltName=${san}`,
          ].join('\n') + '\n');
          openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.key`], dir);
          openssl(['req', '-new', '-key', `${base}.key`, '-subj', `/CN=${leaf}`, '-out', `${base}.csr`], dir);
          openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', `${name}.crt`, '-CAkey', `${name}.key`, '-set_serial', String(serial++ + 1000),
            '-days', String(options.days ?? 2), '-sha256', '-extfile', ext, '-out', `${base}.crt`], dir);
          return pair(base);
        },
      };
    },
  };
}
