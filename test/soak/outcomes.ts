/** Counting what every scenario ended with, and the table printed at the end. */
import type { Outcome, Scenario } from './scenario.js';

interface Row {
  expect: readonly string[];
  labels: Map<string, number>;
  down: number;
  up: number;
}

export interface Unexpected {
  kind: string;
  label: string;
  where: string;
  detail: string;
}

const KEEP_UNEXPECTED = 25;

export class OutcomeTable {
  private readonly rows = new Map<string, Row>();
  readonly unexpected: Unexpected[] = [];
  unexpectedCount = 0;
  total = 0;
  down = 0;
  up = 0;

  constructor(scenarios: readonly Scenario[]) {
    for (const s of scenarios) this.rows.set(s.kind, { expect: s.expect, labels: new Map(), down: 0, up: 0 });
  }

  record(s: Scenario, o: Outcome, where: string): void {
    const row = this.rows.get(s.kind)!;
    row.labels.set(o.label, (row.labels.get(o.label) ?? 0) + 1);
    this.total++;
    if (!s.expect.includes(o.label)) {
      this.unexpectedCount++;
      if (this.unexpected.length < KEEP_UNEXPECTED) this.unexpected.push({ kind: s.kind, label: o.label, where, detail: o.detail });
      return;
    }
    row.down += o.down;
    row.up += o.up;
    this.down += o.down;
    this.up += o.up;
  }

  /** One line per scenario kind: count, expected outcome(s), anything else that happened, verified bytes. */
  format(): string {
    const lines: string[] = [];
    const w = Math.max(...[...this.rows.keys()].map((k) => k.length), 8);
    lines.push(`${'scenario'.padEnd(w)}  ${'runs'.padStart(6)}  ${'as expected'.padEnd(34)}  ${'MiB down/up'.padStart(15)}  unexpected`);
    for (const [kind, row] of [...this.rows].sort(([a], [b]) => a.localeCompare(b))) {
      let runs = 0;
      let good = 0;
      const bad: string[] = [];
      for (const [label, n] of row.labels) {
        runs += n;
        if (row.expect.includes(label)) good += n;
        else bad.push(`${label} ×${n}`);
      }
      const mib = `${(row.down / 2 ** 20).toFixed(1)}/${(row.up / 2 ** 20).toFixed(1)}`;
      lines.push(`${kind.padEnd(w)}  ${String(runs).padStart(6)}  ${`${good} ${row.expect.join('|')}`.padEnd(34)}  ${mib.padStart(15)}  ${bad.join(', ')}`);
    }
    return lines.join('\n');
  }

  /** Kinds that never ran (a short run, or a scenario that cannot start). */
  neverRan(): string[] {
    return [...this.rows].filter(([, r]) => r.labels.size === 0).map(([k]) => k);
  }
}
