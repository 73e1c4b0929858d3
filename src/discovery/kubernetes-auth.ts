/**
 * Where the Kubernetes API and its credentials come from, in the order the
 * config reference documents: the `kubeconfig` file named in the config;
 * the pod's service account (in cluster); `$KUBECONFIG`; `~/.kube/config`.
 *
 * Two steps, so that loading a configuration stays cheap when no service
 * uses Kubernetes: `resolveKubeAccess` decides synchronously, with fs and
 * yaml only, where the credentials come from and which namespace applies;
 * `loadKubeConfig` imports @kubernetes/client-node (about half a second of
 * start-up on its own) when a source starts.
 *
 * Service-account token rotation needs nothing here: the kubelet rewrites
 * the projected token well before it expires (at 80% of its lifetime), and
 * client-node's in-cluster user reads it through its `tokenFile` provider,
 * which re-reads the file every 60 s as client-go does; the CA bundle is
 * read on every request.
 */
import { accessSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { yaml } from '../config/yaml.js';
import type { KubeConfig } from '@kubernetes/client-node';

/** Where the pod's service account is mounted (prefixed by `inClusterPrefix` in tests). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeAccess =
  | { readonly kind: 'given'; readonly kubeConfig: KubeConfig; readonly namespace: string | undefined }
  | { readonly kind: 'in-cluster'; readonly prefix: string; readonly namespace: string | undefined }
  | { readonly kind: 'kubeconfig'; readonly files: readonly string[]; readonly namespace: string | undefined };

export interface ResolveOptions {
  /** Prepended to the service-account paths (client-node's `loadFromCluster(pathPrefix)`); tests only. */
  inClusterPrefix?: string;
  /** Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Thrown when no credentials can be found or a kubeconfig cannot be read. */
export class KubeAccessError extends Error {
  override readonly name = 'KubeAccessError';
}

function exists(file: string): boolean {
  try {
    accessSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The first file that sets current-context wins, as with kubectl; the first context of that name gives the namespace. */
function kubeconfigNamespace(files: readonly string[]): string | undefined {
  const docs: unknown[] = [];
  let current: string | undefined;
  for (const file of files) {
    let doc: unknown;
    try {
      doc = yaml().parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new KubeAccessError(`kubeconfig ${file}: ${(err as Error).message}`);
    }
    if (doc === null || typeof doc !== 'object') throw new KubeAccessError(`kubeconfig ${file}: not a kubeconfig (expected a YAML mapping)`);
    docs.push(doc);
    const cc = (doc as Record<string, unknown>)['current-context'];
    if (current === undefined && typeof cc === 'string' && cc !== '') current = cc;
  }
  if (current === undefined) return undefined;
  for (const doc of docs) {
    const contexts = (doc as { contexts?: unknown }).contexts;
    if (!Array.isArray(contexts)) continue;
    for (const c of contexts as { name?: unknown; context?: { namespace?: unknown } }[]) {
      if (c?.name !== current) continue;
      const ns = c.context?.namespace;
      return typeof ns === 'string' && ns !== '' ? ns : undefined;
    }
  }
  return undefined;
}

/** The namespace of a loaded KubeConfig's current context. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  const ns = kc.getContextObject(kc.getCurrentContext())?.namespace?.trim();
  return ns ? ns : undefined;
}

/** Decides where credentials come from; throws KubeAccessError with a message for people. */
export function resolveKubeAccess(kubeconfig: string | undefined, options: ResolveOptions = {}): KubeAccess {
  const env = options.env ?? process.env;
  if (kubeconfig !== undefined) {
    if (!exists(kubeconfig)) throw new KubeAccessError(`kubeconfig ${kubeconfig}: no such file or not readable`);
    return { kind: 'kubeconfig', files: [kubeconfig], namespace: kubeconfigNamespace([kubeconfig]) };
  }
  // client-go's rest.InClusterConfig: both variables set and a mounted token.
  const prefix = options.inClusterPrefix ?? '';
  const saDir = `${prefix}${SERVICE_ACCOUNT_DIR}`;
  if (env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT'] && exists(`${saDir}/token`)) {
    let namespace: string | undefined;
    try {
      namespace = readFileSync(`${saDir}/namespace`, 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
    return { kind: 'in-cluster', prefix, namespace };
  }
  const listed = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
  if (listed.length > 0) {
    // kubectl skips files of $KUBECONFIG that do not exist.
    const files = listed.filter(exists);
    if (files.length === 0) throw new KubeAccessError(`none of the files in $KUBECONFIG exists (${listed.join(path.delimiter)})`);
    return { kind: 'kubeconfig', files, namespace: kubeconfigNamespace(files) };
  }
  const home = env['HOME'] || os.homedir();
  const file = path.join(home, '.kube', 'config');
  if (exists(file)) return { kind: 'kubeconfig', files: [file], namespace: kubeconfigNamespace([file]) };
  throw new KubeAccessError(
    'no Kubernetes credentials: not in a cluster (KUBERNETES_SERVICE_HOST unset or no service-account token), ' +
      `$KUBECONFIG unset and ${file} missing; set discovery.kubernetes.kubeconfig`,
  );
}

/** For messages: `in-cluster service account`, `kubeconfig /etc/kube.yaml`. */
export function describeAccess(access: KubeAccess): string {
  switch (access.kind) {
    case 'given':
      return 'kubeconfig';
    case 'in-cluster':
      return 'in-cluster service account';
    case 'kubeconfig':
      return `kubeconfig ${access.files.join(path.delimiter)}`;
  }
}

/** Loads the KubeConfig that `access` describes; throws with a message for people. */
export async function loadKubeConfig(access: KubeAccess): Promise<KubeConfig> {
  if (access.kind === 'given') return access.kubeConfig;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (access.kind === 'in-cluster') {
      kc.loadFromCluster(access.prefix);
    } else {
      kc.loadFromFile(access.files[0]!);
      for (const file of access.files.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more, Boolean(kc.getCurrentContext()));
      }
    }
  } catch (err) {
    throw new KubeAccessError(`${describeAccess(access)}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()?.server) {
    throw new KubeAccessError(`${describeAccess(access)}: the current context ("${kc.getCurrentContext() ?? ''}") names no cluster with a server`);
  }
  return kc;
}
