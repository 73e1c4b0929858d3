/**
 * The EndpointSlices of one Service as the EndpointSlice controller would
 * keep them during a rolling churn, written to the Kubernetes API-server
 * stand-in (test/helpers/kube-api-stand-in.ts) one MODIFIED event at a time.
 *
 * Every step changes exactly one endpoint of one slice and rewrites that
 * whole slice (the controller updates slices in place, up to 100 endpoints
 * each), so the watch carries a full slice per change, as a real API server
 * sends it. Steps cycle through what a rollout does to pods:
 *
 *   not-ready     a ready pod fails its readiness probe (ready=false, serving=false)
 *   terminating   a ready pod is being deleted but still serves (KEP-1672:
 *                 ready=false, serving=true, terminating=true)
 *   replaced      a ready pod is gone and a new one, with a new IP, is ready in its place
 *   ready-again   the oldest not-ready pod passes its probe again
 *   terminated    the oldest terminating pod is gone, a new one (new IP) is ready
 *
 * A pod stays not-ready or terminating for `lag` cycles before it comes back
 * or is replaced, so at most `lag` + 1 of each are out of rotation: the slices
 * always hold exactly `total` endpoints, of which at least
 * `total - 2 × (lag + 1)` are ready.
 */
import { SERVICE_NAME_LABEL, type KubeApiStandIn, type SliceInput } from "../../test/helpers/kube-api-stand-in.js";

export type ChurnStep = "not-ready" | "terminating" | "replaced" | "ready-again" | "terminated";
export const CHURN_STEPS: readonly ChurnStep[] = ["not-ready", "terminating", "replaced", "ready-again", "terminated"];

type Condition = "ready" | "not-ready" | "terminating";

interface Pod {
  ip: string;
  name: string;
  cond: Condition;
}

interface Slot {
  slice: number;
  index: number;
}

export interface SliceChurnOptions {
  api: KubeApiStandIn;
  service: string;
  namespace?: string;
  /** The Service port's name in the slices, and the port number every endpoint listens on. */
  portName: string;
  port: number;
  /** Endpoints in all, spread over `slices` slices (the controller's default is 100 per slice). */
  total: number;
  slices: number;
  /** Cycles a pod stays not-ready / terminating before it comes back / is replaced. */
  lag?: number;
  /**
   * "rollout" (default): the five steps above. "conditions": ready pods turn
   * terminating and back to ready, nothing else: the set of addresses never
   * changes, so no connection is opened or closed — what is left is the cost
   * of following the slices (watch, parsing, the snapshot, the balancer).
   */
  mix?: "rollout" | "conditions";
}

/**
 * Loopback address number `k`: 127.0.1.1, 127.0.1.2, … 127.0.1.250,
 * 127.0.2.1, … (no .0 or .255, so every one is a plain host address). Any
 * 127.0.0.0/8 address reaches a socket bound to 0.0.0.0.
 */
export function loopbackAddress(k: number): string {
  const block = Math.floor(k / 250);
  return `127.${Math.floor(block / 250)}.${1 + (block % 250)}.${1 + (k % 250)}`;
}

export class SliceChurn {
  readonly counts: Record<ChurnStep, number> = { "not-ready": 0, terminating: 0, replaced: 0, "ready-again": 0, terminated: 0 };
  /** MODIFIED events written since creation. */
  events = 0;

  private readonly o: Required<Omit<SliceChurnOptions, "namespace">> & { namespace: string };
  private readonly pods: Pod[][] = [];
  private readonly down: Slot[] = [];
  private readonly leaving: Slot[] = [];
  private nextAddress = 0;
  private cursor = 0;
  private step = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SliceChurnOptions) {
    this.o = { lag: 5, namespace: "default", mix: "rollout", ...options };
    const per = Math.ceil(this.o.total / this.o.slices);
    for (let s = 0; s < this.o.slices; s++) {
      const pods: Pod[] = [];
      for (let i = 0; i < per && s * per + i < this.o.total; i++) pods.push(this.newPod());
      this.pods.push(pods);
    }
  }

  /** Creates the slices in the stand-in (ADDED events). */
  create(): void {
    for (let s = 0; s < this.pods.length; s++) this.o.api.create(this.slice(s));
  }

  /**
   * `host:port` of every endpoint the proxy should have as a member (ready or
   * terminating; not-ready ones are left out), with whether it is terminating.
   */
  expectedMembers(): Map<string, boolean> {
    const out = new Map<string, boolean>();
    for (const pods of this.pods) {
      for (const p of pods) if (p.cond !== "not-ready") out.set(`${p.ip}:${this.o.port}`, p.cond === "terminating");
    }
    return out;
  }

  /** Endpoints in all slices (always `total`). */
  get endpointCount(): number {
    return this.pods.reduce((n, pods) => n + pods.length, 0);
  }

  /** Ready endpoints now. */
  get readyCount(): number {
    return this.pods.reduce((n, pods) => n + pods.filter((p) => p.cond === "ready").length, 0);
  }

  /** One change: one endpoint of one slice, one MODIFIED event. */
  next(): ChurnStep {
    const lag = this.o.lag;
    if (this.o.mix === "conditions") return this.nextCondition(lag);
    let kind = CHURN_STEPS[this.step++ % CHURN_STEPS.length]!;
    // Until `lag` pods wait in a queue, what would take one out of it replaces a pod instead.
    if (kind === "ready-again" && this.down.length <= lag) kind = "replaced";
    if (kind === "terminated" && this.leaving.length <= lag) kind = "replaced";
    let slot: Slot;
    switch (kind) {
      case "not-ready":
        slot = this.readySlot();
        this.pod(slot).cond = "not-ready";
        this.down.push(slot);
        break;
      case "terminating":
        slot = this.readySlot();
        this.pod(slot).cond = "terminating";
        this.leaving.push(slot);
        break;
      case "replaced":
        slot = this.readySlot();
        this.pods[slot.slice]![slot.index] = this.newPod();
        break;
      case "ready-again":
        slot = this.down.shift()!;
        this.pod(slot).cond = "ready";
        break;
      case "terminated":
        slot = this.leaving.shift()!;
        this.pods[slot.slice]![slot.index] = this.newPod();
        break;
    }
    this.o.api.update(this.slice(slot.slice));
    this.counts[kind]++;
    this.events++;
    return kind;
  }

  /**
   * Changes `perSecond` endpoints a second, evenly spaced, until stop(). A
   * late timer catches up (up to 5 steps at once) so the rate holds on
   * average; `events` counts what was actually written.
   */
  start(perSecond: number): void {
    if (this.timer !== undefined) throw new Error("churn already running");
    const interval = 1000 / perSecond;
    const t0 = performance.now();
    let done = 0;
    const tick = (): void => {
      const due = Math.max(done + 1, Math.floor((performance.now() - t0) / interval));
      for (let n = 0; done < due && n < 5; n++, done++) this.next();
      // Further behind than that (a long pause): skip rather than burst.
      if (done < due) done = due;
      this.timer = setTimeout(tick, Math.max(0, t0 + (done + 1) * interval - performance.now()));
    };
    this.timer = setTimeout(tick, interval);
  }

  /** Stops the changes started by start(). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private nextCondition(lag: number): ChurnStep {
    let slot: Slot;
    let kind: ChurnStep;
    if (this.step++ % 2 === 0 || this.leaving.length <= lag) {
      kind = "terminating";
      slot = this.readySlot();
      this.pod(slot).cond = "terminating";
      this.leaving.push(slot);
    } else {
      kind = "ready-again";
      slot = this.leaving.shift()!;
      this.pod(slot).cond = "ready";
    }
    this.o.api.update(this.slice(slot.slice));
    this.counts[kind]++;
    this.events++;
    return kind;
  }

  private pod(slot: Slot): Pod {
    return this.pods[slot.slice]![slot.index]!;
  }

  /** The next ready endpoint, going round the slices so consecutive changes hit different slices. */
  private readySlot(): Slot {
    const slices = this.pods.length;
    for (let tries = 0; tries < this.o.total * 2; tries++) {
      const c = this.cursor++;
      const slice = c % slices;
      const pods = this.pods[slice]!;
      const index = Math.floor(c / slices) % pods.length;
      if (pods[index]!.cond === "ready") return { slice, index };
    }
    throw new Error("no ready endpoint left to change");
  }

  private newPod(): Pod {
    const k = this.nextAddress++;
    return { ip: loopbackAddress(k), name: `${this.o.service}-${k.toString(36).padStart(5, "0")}`, cond: "ready" };
  }

  private slice(s: number): SliceInput {
    const conditions = {
      ready: { ready: true, serving: true, terminating: false },
      "not-ready": { ready: false, serving: false, terminating: false },
      terminating: { ready: false, serving: true, terminating: true },
    } as const;
    return {
      metadata: {
        name: `${this.o.service}-${s.toString(36).padStart(5, "0")}`,
        namespace: this.o.namespace,
        labels: { [SERVICE_NAME_LABEL]: this.o.service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
      },
      addressType: "IPv4",
      ports: [{ name: this.o.portName, port: this.o.port, protocol: "TCP" }],
      // What the controller writes for each pod: one address, conditions, the pod, its node and zone.
      endpoints: this.pods[s]!.map((p, i) => ({
        addresses: [p.ip],
        conditions: { ...conditions[p.cond] },
        targetRef: { kind: "Pod", namespace: this.o.namespace, name: p.name },
        nodeName: `node-${i % 8}`,
        zone: `zone-${"abc"[i % 3]}`,
      })) as SliceInput["endpoints"],
    };
  }
}
