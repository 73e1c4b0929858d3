/**
 * The Kubernetes manifests under deploy/kubernetes: every object is valid for
 * its kind, the Switchyard configurations they carry pass the project's own
 * parser, and the pieces fit together (RBAC, probes on the admin server's real
 * paths, mounted configuration, ports, grace period against the drain). The
 * kustomizations are read the way `kubectl apply -k` reads them, for the
 * features they use (resources, configMapGenerator, namespace, images); a
 * feature this model does not know fails the test rather than going unchecked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import * as k8s from '@kubernetes/client-node';
import { parseConfig, parseConfigText, type Config } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { AdminServer } from '../../src/telemetry/admin-server.js';

const ROOT = path.resolve('deploy/kubernetes');

/** Manifests are untyped YAML. */
type Obj = Record<string, any>;

interface Placed {
  obj: Obj;
  /** Where it came from, for messages: a file, or `configMapGenerator <name>`. */
  from: string;
}

interface Build {
  dir: string;
  objects: Placed[];
  /** Generated ConfigMaps: name → key → text (also present in `objects`). */
  generated: Map<string, Map<string, string>>;
  namespace: string | undefined;
  /** The kustomization's own `images` entries. */
  images: Obj[];
  /** Every file the kustomization (and the ones it includes) reads. */
  files: Set<string>;
}

const KUSTOMIZATION_KEYS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'namespace', 'images']);

function rel(p: string): string {
  return path.relative(path.resolve('.'), p);
}

function loadKustomization(dir: string): Build {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Obj;
  assert.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1', rel(file));
  assert.equal(k.kind, 'Kustomization', rel(file));
  for (const key of Object.keys(k)) assert.ok(KUSTOMIZATION_KEYS.has(key), `${rel(file)}: "${key}" is not modelled by this test; teach it`);
  const build: Build = { dir, objects: [], generated: new Map(), namespace: k.namespace, images: k.images ?? [], files: new Set([file]) };
  for (const r of (k.resources ?? []) as string[]) {
    const p = path.resolve(dir, r);
    assert.ok(existsSync(p), `${rel(file)}: resource ${r} does not exist`);
    if (statSync(p).isDirectory()) {
      const sub = loadKustomization(p);
      build.objects.push(...sub.objects);
      for (const [n, d] of sub.generated) build.generated.set(n, d);
      for (const f of sub.files) build.files.add(f);
      continue;
    }
    // kustomize loads files only from the kustomization's own folder or below.
    assert.ok(!path.relative(dir, p).startsWith('..'), `${rel(file)}: file ${r} is outside the kustomization root`);
    build.files.add(p);
    for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
      assert.deepEqual(doc.errors, [], rel(p));
      const obj = doc.toJS() as Obj | null;
      if (obj !== null) build.objects.push({ obj, from: rel(p) });
    }
  }
  for (const g of (k.configMapGenerator ?? []) as Obj[]) {
    const behavior = (g.behavior ?? 'create') as string;
    assert.ok(['create', 'replace', 'merge'].includes(behavior), `${rel(file)}: behavior ${behavior}`);
    const data = new Map<string, string>();
    for (const entry of (g.files ?? []) as string[]) {
      const [key, f] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
      const p = path.resolve(dir, f);
      assert.ok(existsSync(p), `${rel(file)}: configMapGenerator file ${f} does not exist`);
      assert.ok(!path.relative(dir, p).startsWith('..'), `${rel(file)}: file ${f} is outside the kustomization root`);
      build.files.add(p);
      data.set(key, readFileSync(p, 'utf8'));
    }
    assert.equal(g.literals, undefined, `${rel(file)}: literals are not modelled by this test`);
    const exists = build.generated.has(g.name);
    if (behavior === 'create') assert.ok(!exists, `${rel(file)}: ConfigMap ${g.name} generated twice`);
    else assert.ok(exists, `${rel(file)}: ${behavior} of ConfigMap ${g.name}, which no included kustomization generates`);
    const merged = behavior === 'merge' ? new Map([...build.generated.get(g.name)!, ...data]) : data;
    build.generated.set(g.name, merged);
    build.objects = build.objects.filter((o) => !(o.obj.kind === 'ConfigMap' && o.obj.metadata?.name === g.name && o.from.startsWith('configMapGenerator')));
    build.objects.push({
      obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data: Object.fromEntries(merged) },
      from: `configMapGenerator ${g.name} (${rel(file)})`,
    });
  }
  return build;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const KUSTOMIZATION_DIRS = walk(ROOT)
  .filter((f) => path.basename(f) === 'kustomization.yaml')
  .map((f) => path.dirname(f))
  .sort();
const BUILDS = KUSTOMIZATION_DIRS.map(loadKustomization);
const build = (name: string): Build => {
  const b = BUILDS.find((x) => path.basename(x.dir) === name);
  assert.ok(b, `no kustomization deploy/kubernetes/${name}`);
  return b;
};

// ---- Kubernetes schemas ----------------------------------------------------

const API_VERSION = /^(?:[a-z0-9.-]+\/)?v\d+(?:(?:alpha|beta)\d+)?$/;

/** The kubernetes-models class for an apiVersion and kind; throws for a kind it does not know. */
async function modelClass(apiVersion: string, kind: string): Promise<new (data: Obj) => { validate(): void }> {
  if (!API_VERSION.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`not an apiVersion/kind: ${apiVersion} ${kind}`);
  let mod: Obj;
  try {
    mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Obj;
  } catch {
    throw new Error(`unknown kind ${kind} in ${apiVersion}`);
  }
  const C = mod[kind] as (new (data: Obj) => { validate(): void }) & { apiVersion: string; kind: string };
  if (C?.apiVersion !== apiVersion || C.kind !== kind) throw new Error(`unknown kind ${kind} in ${apiVersion}`);
  return C;
}

const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

/**
 * Fields Kubernetes does not know. kubernetes-models' schemas allow extra
 * properties, but `kubectl apply` validates strictly and rejects them (a
 * misspelled `readinessProbes` would otherwise pass); the client library's
 * generated models list every field of every type.
 */
function unknownFields(value: unknown, type: string, at: string, out: string[]): void {
  if (value === null || value === undefined || LEAF_TYPES.has(type)) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, arr[1]!, `${at}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${at}.${k}`, out);
    return;
  }
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>)[type];
  if (typeof model?.getAttributeTypeMap !== 'function') throw new Error(`${at}: no model for type ${type}`);
  if (typeof value !== 'object' || Array.isArray(value)) return; // a type error; the schema validation reports it
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${at}.${k}`);
    else unknownFields(v, t, `${at}.${k}`, out);
  }
}

async function validateObject(obj: Obj): Promise<void> {
  const C = await modelClass(String(obj.apiVersion), String(obj.kind));
  const { apiVersion: _a, kind: _k, ...data } = obj;
  new C(data).validate();
  const version = String(obj.apiVersion).split('/').pop()!;
  const unknown: string[] = [];
  // apps/v1 Deployment → V1Deployment, policy/v1 PodDisruptionBudget → V1PodDisruptionBudget.
  unknownFields(obj, `V${version.slice(1)}${obj.kind}`, String(obj.kind), unknown);
  if (unknown.length > 0) throw new Error(`unknown field(s): ${unknown.join(', ')}`);
}

// ---- helpers over objects ---------------------------------------------------

function ofKind(b: Build, kind: string): Obj[] {
  return b.objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
}

function named(b: Build, kind: string, name: string): Obj | undefined {
  return ofKind(b, kind).find((o) => o.metadata?.name === name);
}

/** Pod templates with their owner (Deployment, Job). */
function podTemplates(b: Build): { owner: Obj; pod: Obj }[] {
  return b.objects.filter((o) => o.obj.spec?.template?.spec !== undefined).map((o) => ({ owner: o.obj, pod: o.obj.spec.template }));
}

function containersOf(podSpec: Obj): Obj[] {
  return [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
}

function isSwitchyardImage(c: Obj): boolean {
  return /^switchyard(?::|$)/.test(String(c.image));
}

/** A container running the proxy: the Switchyard image with its own entrypoint. */
function isProxy(c: Obj): boolean {
  return isSwitchyardImage(c) && c.command === undefined && (c.args ?? [])[0] === 'run';
}

/** The configuration a proxy container reads: its --config path, resolved through the volume mounts. */
function mountedConfig(b: Build, pod: Obj, c: Obj): { path: string; text: string; config: Config } {
  const args = c.args as string[];
  const file = args[args.indexOf('--config') + 1];
  assert.ok(file?.startsWith('/'), `${c.name}: --config needs an absolute path`);
  const text = mountedFile(b, pod, c, file);
  return { path: file, text, config: parseConfigText(text, file) };
}

/** The text of `file` in container `c`, which must come from a mounted ConfigMap of the build. */
function mountedFile(b: Build, pod: Obj, c: Obj, file: string): string {
  const mount = (c.volumeMounts ?? []).find((m: Obj) => path.posix.dirname(file) === m.mountPath);
  assert.ok(mount, `${c.name}: nothing is mounted at ${path.posix.dirname(file)}`);
  const volume = (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
  assert.ok(volume?.configMap, `${c.name}: volume ${mount.name} is not a ConfigMap`);
  const cm = named(b, 'ConfigMap', volume.configMap.name);
  assert.ok(cm, `${c.name}: ConfigMap ${volume.configMap.name} is not part of ${rel(b.dir)}`);
  const text = cm.data?.[path.posix.basename(file)] as string | undefined;
  assert.ok(text !== undefined, `${c.name}: ConfigMap ${volume.configMap.name} has no key ${path.posix.basename(file)}`);
  return text;
}

function containerPort(c: Obj, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return (c.ports ?? []).find((p: Obj) => p.name === port)?.containerPort;
}

/** The one pod template a Service selects. */
function selectedPod(b: Build, svc: Obj): Obj {
  const sel = svc.spec.selector as Record<string, string>;
  const pods = podTemplates(b).filter(({ pod }) => Object.entries(sel).every(([k, v]) => pod.metadata.labels?.[k] === v));
  assert.equal(pods.length, 1, `${rel(b.dir)}: Service ${svc.metadata.name} selects ${pods.length} pod templates`);
  return pods[0]!.pod;
}

/** The container of `pod` that declares `target` (a port name, or a number some container declares). */
function targetContainer(pod: Obj, target: string | number): Obj | undefined {
  return containersOf(pod.spec).find((c) => (c.ports ?? []).some((p: Obj) => p.name === target || p.containerPort === target));
}

const WILDCARD = new Set(['0.0.0.0', '::']);

function httpGet(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

// ---- tests -----------------------------------------------------------------

test('every file under deploy/kubernetes belongs to a kustomization, and what a kustomization names exists', () => {
  assert.deepEqual(
    KUSTOMIZATION_DIRS.map((d) => path.basename(d)),
    ['example-square-app', 'gateway', 'rbac', 'sidecar'],
  );
  const used = new Set(BUILDS.flatMap((b) => [...b.files]));
  const orphans = walk(ROOT).filter((f) => !f.endsWith('.md') && !used.has(f));
  assert.deepEqual(orphans.map(rel), [], 'files no kustomization reads');
});

test('every object is valid for its apiVersion and kind, with no field Kubernetes does not know', async () => {
  let checked = 0;
  for (const b of BUILDS) {
    const ids = new Set<string>();
    for (const { obj, from } of b.objects) {
      await validateObject(obj).catch((e: Error) => assert.fail(`${from}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`));
      assert.equal(obj.metadata?.namespace, undefined, `${from}: ${obj.kind} ${obj.metadata?.name} hard-codes a namespace`);
      const id = `${obj.kind}/${obj.metadata?.name}`;
      assert.ok(!ids.has(id), `${rel(b.dir)}: ${id} defined twice`);
      ids.add(id);
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} objects`);
});

test('the validators reject an unknown kind, a wrong type and a misspelled field', async () => {
  const deployment = ofKind(build('gateway'), 'Deployment')[0]!;
  await assert.rejects(validateObject({ ...deployment, kind: 'Deploymint' }), /unknown kind Deploymint/);
  await assert.rejects(validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), /unknown kind Widget/);
  await assert.rejects(validateObject({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }), /replicas must be integer/);
  const typo = structuredClone(deployment);
  typo.spec.template.spec.containers[0].readinessProbes = typo.spec.template.spec.containers[0].readinessProbe;
  await assert.rejects(validateObject(typo), /unknown field\(s\): Deployment\.spec\.template\.spec\.containers\[0\]\.readinessProbes/);
});

test('every Switchyard configuration passes the project parser, with the admin server on the pod IP', () => {
  let configs = 0;
  for (const b of BUILDS) {
    for (const { pod } of podTemplates(b)) {
      for (const c of containersOf(pod.spec).filter(isProxy)) {
        const { config } = mountedConfig(b, pod, c);
        assert.ok(config.admin.enabled, `${c.name}: the probes need the admin server`);
        assert.ok(WILDCARD.has(config.admin.listen.host), `${rel(b.dir)}: admin listens on ${config.admin.listen.host}, which the kubelet cannot reach`);
        for (const s of config.services) assert.ok(s.discovery?.kubernetes, `${rel(b.dir)}: service ${s.name} does not use Kubernetes discovery`);
        configs++;
      }
    }
    // Every configuration file shipped, mounted or not, parses.
    for (const [name, data] of b.generated) {
      for (const [key, text] of data) if (key === 'config.yaml') assert.doesNotThrow(() => parseConfigText(text, `${name}/${key}`));
    }
  }
  assert.ok(configs >= 3, `${configs} proxy containers`);
});

test('RBAC grants get, list and watch on endpointslices and nothing else, to the account the proxies run as', () => {
  for (const b of BUILDS.filter((x) => podTemplates(x).some(({ pod }) => containersOf(pod.spec).some(isProxy)))) {
    assert.deepEqual(ofKind(b, 'ClusterRole'), [], `${rel(b.dir)}: no ClusterRole needed`);
    assert.deepEqual(ofKind(b, 'ClusterRoleBinding'), [], `${rel(b.dir)}: no ClusterRoleBinding needed`);
    const roles = ofKind(b, 'Role');
    assert.equal(roles.length, 1, rel(b.dir));
    assert.deepEqual(roles[0]!.rules, [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }]);
    const bindings = ofKind(b, 'RoleBinding');
    assert.equal(bindings.length, 1, rel(b.dir));
    assert.deepEqual(bindings[0]!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roles[0]!.metadata.name });
    for (const { owner, pod } of podTemplates(b)) {
      if (!containersOf(pod.spec).some(isProxy)) continue;
      const sa = pod.spec.serviceAccountName as string;
      assert.ok(named(b, 'ServiceAccount', sa), `${owner.metadata.name}: ServiceAccount ${sa} is not part of ${rel(b.dir)}`);
      assert.notEqual(pod.spec.automountServiceAccountToken, false, `${owner.metadata.name}: discovery needs the token`);
      assert.ok(
        bindings[0]!.subjects.some((s: Obj) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === undefined),
        `${owner.metadata.name}: ${sa} is not bound (in the binding's own namespace)`,
      );
    }
  }
});

test('probes ask the admin server, on its configured port, for paths it serves', async (t) => {
  // The real admin server, ready: every probe path must answer 200.
  const admin = new AdminServer(() => true);
  const { port } = await admin.listen('127.0.0.1', 0);
  t.after(() => admin.close());
  let probes = 0;
  for (const b of BUILDS) {
    for (const { owner, pod } of podTemplates(b)) {
      for (const c of containersOf(pod.spec).filter(isProxy)) {
        const { config } = mountedConfig(b, pod, c);
        const all = ['startupProbe', 'readinessProbe', 'livenessProbe'].filter((k) => c[k] !== undefined);
        assert.ok(all.includes('livenessProbe'), `${owner.metadata.name}/${c.name}: no liveness probe`);
        if (c.restartPolicy !== 'Always') assert.ok(all.includes('readinessProbe'), `${owner.metadata.name}/${c.name}: no readiness probe`);
        for (const k of all) {
          const get = c[k].httpGet as Obj;
          assert.ok(get, `${owner.metadata.name}/${c.name} ${k}: not an HTTP probe`);
          assert.equal(containerPort(c, get.port), config.admin.listen.port, `${owner.metadata.name}/${c.name} ${k}: not the admin port`);
          assert.equal(await httpGet(port, get.path), 200, `${owner.metadata.name}/${c.name} ${k}: ${get.path}`);
          probes++;
        }
        if (c.readinessProbe) assert.equal(c.readinessProbe.httpGet.path, '/ready');
        assert.equal(c.livenessProbe.httpGet.path, '/live', 'liveness must not depend on the backends');
      }
    }
  }
  assert.ok(probes >= 6, `${probes} probes`);
  // And a path the server does not serve is caught.
  assert.equal(await httpGet(port, '/healthz'), 404);
});

test('Services send traffic to a port Switchyard listens on, on the pod IP', () => {
  let checked = 0;
  for (const b of BUILDS) {
    for (const svc of ofKind(b, 'Service')) {
      const pod = selectedPod(b, svc);
      for (const sp of svc.spec.ports as Obj[]) {
        const target = sp.targetPort ?? sp.port;
        const c = targetContainer(pod, target);
        assert.ok(c, `${rel(b.dir)}: Service ${svc.metadata.name} port ${sp.name}: no container port ${target}`);
        if (isProxy(c)) {
          const { config } = mountedConfig(b, pod, c);
          const l = config.listeners.find((x) => x.listen.port === containerPort(c, target));
          assert.ok(l, `${rel(b.dir)}: Service ${svc.metadata.name} targets ${target}, where no listener listens`);
          assert.ok(WILDCARD.has(l.listen.host), `${rel(b.dir)}: listener ${l.name} is not on the pod IP`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked >= 2, `${checked} Service ports in front of Switchyard`);
});

test('discovery follows a Service port that exists, where the Service is part of the same deployment', () => {
  let checked = 0;
  for (const b of BUILDS) {
    for (const { pod } of podTemplates(b)) {
      for (const c of containersOf(pod.spec).filter(isProxy)) {
        for (const s of mountedConfig(b, pod, c).config.services) {
          const k = s.discovery?.kubernetes;
          const svc = k && named(b, 'Service', k.service);
          if (!k || !svc) continue;
          // EndpointSlice ports carry the Service port's name and the pod's port number.
          const backend = selectedPod(b, svc);
          const ok = (svc.spec.ports as Obj[]).some((p) => {
            if (typeof k.port === 'string') return p.name === k.port;
            const target = p.targetPort ?? p.port;
            const c = targetContainer(backend, target);
            return c !== undefined && containerPort(c, target) === k.port;
          });
          assert.ok(ok, `${rel(b.dir)}: service ${s.name} follows port ${k.port} of Service ${k.service}, which has none such`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked >= 1, 'the example follows its own square-app Service');
});

test('Switchyard-image containers run as non-root, read-only, without capabilities, with RuntimeDefault seccomp and resources', () => {
  let checked = 0;
  for (const b of BUILDS) {
    for (const { owner, pod } of podTemplates(b)) {
      assert.equal(pod.spec.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${owner.metadata.name}: seccomp`);
      for (const c of containersOf(pod.spec).filter(isSwitchyardImage)) {
        const where = `${rel(b.dir)} ${owner.metadata.name}/${c.name}`;
        const sc = c.securityContext ?? {};
        assert.equal(sc.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.notEqual(sc.runAsUser ?? pod.spec.securityContext?.runAsUser, 0, `${where}: runs as root`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
        assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${where}: capabilities`);
        assert.equal(sc.capabilities?.add, undefined, `${where}: adds capabilities`);
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${where}: requests`);
        assert.ok(c.resources?.limits?.memory, `${where}: memory limit`);
        assert.equal(c.imagePullPolicy, undefined, `${where}: a pinned tag pulls IfNotPresent by default`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 5, `${checked} containers`);
});

test('the Switchyard image is tagged with the package version, in the manifests and the image overrides', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const b of BUILDS) {
    const uses = podTemplates(b).some(({ pod }) => containersOf(pod.spec).some(isSwitchyardImage));
    if (!uses) continue;
    for (const { pod } of podTemplates(b)) for (const c of containersOf(pod.spec).filter(isSwitchyardImage)) assert.equal(c.image, `switchyard:${version}`);
    // Each deployable folder says where to point the image at a registry.
    assert.deepEqual(b.images, [{ name: 'switchyard', newTag: version }], rel(b.dir));
  }
});

test('the gateway runs at least two replicas on different nodes, under a disruption budget', () => {
  for (const name of ['gateway', 'example-square-app']) {
    const b = build(name);
    const d = named(b, 'Deployment', 'switchyard')!;
    assert.ok(d.spec.replicas >= 2, `${name}: replicas ${d.spec.replicas}`);
    assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0, `${name}: a rollout keeps every replica until its successor is ready`);
    const labels = d.spec.template.metadata.labels as Obj;
    assert.deepEqual(d.spec.selector.matchLabels, labels);
    const spread = (d.spec.template.spec.topologySpreadConstraints as Obj[]).find((t) => t.topologyKey === 'kubernetes.io/hostname');
    assert.ok(spread, `${name}: no spread over nodes`);
    assert.equal(spread.whenUnsatisfiable, 'DoNotSchedule');
    assert.equal(spread.nodeTaintsPolicy, 'Honor');
    assert.deepEqual(spread.labelSelector.matchLabels, labels);
    const pdbs = ofKind(b, 'PodDisruptionBudget').filter((p) => Object.entries(p.spec.selector.matchLabels as Obj).every(([k, v]) => labels[k] === v));
    assert.equal(pdbs.length, 1, `${name}: one PodDisruptionBudget for the gateway`);
    const pdb = pdbs[0]!.spec;
    assert.ok(pdb.maxUnavailable === 1 || pdb.minAvailable === 1, `${name}: budget`);
  }
});

test('the grace period covers the preStop pause and the drain timeout', () => {
  let checked = 0;
  for (const b of BUILDS) {
    for (const { owner, pod } of podTemplates(b)) {
      for (const c of containersOf(pod.spec).filter(isProxy)) {
        const drainMs = mountedConfig(b, pod, c).config.shutdown.drainTimeout;
        const pauseS = (c.lifecycle?.preStop?.sleep?.seconds as number | undefined) ?? 0;
        const grace = (pod.spec.terminationGracePeriodSeconds as number | undefined) ?? 30;
        assert.ok(grace * 1000 > pauseS * 1000 + drainMs, `${owner.metadata.name}: grace ${grace}s <= preStop ${pauseS}s + drain ${drainMs / 1000}s`);
        // A gateway behind a Service needs the pause: endpoint removal takes a moment to reach kube-proxy.
        if (ofKind(b, 'Service').some((s) => Object.entries(s.spec.selector as Obj).every(([k, v]) => pod.metadata.labels?.[k] === v))) {
          assert.ok(pauseS >= 3, `${owner.metadata.name}: preStop pause ${pauseS}s`);
        }
        checked++;
      }
    }
  }
  assert.ok(checked >= 3);
});

test('the sidecar listens on loopback only and starts before the application', () => {
  const b = build('sidecar');
  const [{ pod }] = podTemplates(b) as [{ owner: Obj; pod: Obj }];
  const proxy = (pod.spec.initContainers as Obj[]).find(isProxy)!;
  assert.equal(proxy.restartPolicy, 'Always', 'a native sidecar');
  assert.ok(proxy.startupProbe, 'the application starts once the startup probe passes');
  assert.equal(proxy.readinessProbe, undefined, "the proxy's readiness would become the application's");
  const { config } = mountedConfig(b, pod, proxy);
  for (const l of config.listeners) assert.equal(l.listen.host, '127.0.0.1', `listener ${l.name}`);
  const app = (pod.spec.containers as Obj[])[0]!;
  const target = (app.env as Obj[]).find((e) => e.name === 'GREETER_ADDRESS')!.value as string;
  assert.ok(config.listeners.some((l) => `${l.listen.host}:${l.listen.port}` === target), `the application calls ${target}`);
});

test('the example: square-app behind an L4 hop reaches one replica, behind Switchyard all three', async (t) => {
  const b = build('example-square-app');
  assert.equal(b.namespace, 'switchyard-demo');
  assert.ok(named(b, 'Namespace', 'switchyard-demo'));
  assert.equal(named(b, 'Deployment', 'square-app')!.spec.replicas, 3);
  // The commands run the script the pods mount from the ConfigMap.
  const script = path.join(ROOT, 'example-square-app/square.mjs');
  const text = readFileSync(script, 'utf8');
  const env: Record<string, Record<string, string>> = {};
  for (const { owner, pod } of podTemplates(b)) {
    for (const c of (pod.spec.containers as Obj[]).filter((x) => isSwitchyardImage(x) && x.command !== undefined)) {
      assert.equal(c.command[0], 'node');
      assert.equal(mountedFile(b, pod, c, c.command[1]), text, `${owner.metadata.name}: runs ${c.command[1]}`);
      env[c.command[2]] = Object.fromEntries(((c.env ?? []) as Obj[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    }
  }
  assert.deepEqual(Object.keys(env).sort(), ['compare', 'serve']);

  // Run them on loopback: three replicas, and in front of them a proxy with a
  // tcp listener (one connection → one replica, as kube-proxy does) and an
  // HTTP/2 listener with the example's balancer.
  const children: ChildProcess[] = [];
  t.after(() => children.forEach((c) => c.kill('SIGKILL')));
  const start = (args: string[], extra: Record<string, string>): ChildProcess => {
    const c = spawn(process.execPath, [script, ...args], { env: { ...process.env, SWITCHYARD_HOME: path.resolve('.'), ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    return c;
  };
  const endpoints = await Promise.all(
    ['square-a', 'square-b', 'square-c'].map(async (name) => {
      const c = start(['serve'], { ...env.serve, LISTEN: '127.0.0.1:0', REPLICA: name });
      for await (const line of createInterface({ input: c.stdout! })) {
        const m = /^square replica (\S+) listening on (127\.0\.0\.1:\d+)$/.exec(line);
        assert.ok(m, line);
        assert.equal(m[1], name);
        return m[2]!;
      }
      throw new Error(`${name} exited`);
    }),
  );
  const example = parseConfigText(build('example-square-app').generated.get('switchyard-config')!.get('config.yaml')!);
  const proxy = new Proxy(
    parseConfig({
      admin: { enabled: false },
      listeners: [
        { name: 'l4', listen: '127.0.0.1:0', protocol: 'tcp', service: 'square' },
        { name: 'l7', listen: '127.0.0.1:0', protocol: 'auto', service: 'square' },
      ],
      services: [{ name: 'square', balancer: example.services[0]!.balancer.policy, endpoints }],
    }),
    { policies: defaultPolicies },
  );
  await proxy.start();
  t.after(() => proxy.stop(0));
  const [l4, l7] = proxy.listeners.map((l) => `127.0.0.1:${l.address.port}`) as [string, string];
  const compare = start(['compare'], { ...env.compare, DIRECT: l4, VIA: l7, CALLS: '30', WAIT_SECONDS: '20' });
  let out = '';
  compare.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => compare.once('exit', r));
  assert.equal(code, 0, out);
  const rows = [...out.matchAll(/^(square-[abc])\s+(\d+)\s+(\d+)$/gm)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
  assert.equal(rows.length, 3, out);
  assert.deepEqual(rows.map((r) => r[2]), [10, 10, 10], `Switchyard spreads each call:\n${out}`);
  assert.deepEqual(rows.map((r) => r[1]).sort((x, y) => Number(y) - Number(x)), [30, 0, 0], `the L4 hop pins the connection:\n${out}`);
});
