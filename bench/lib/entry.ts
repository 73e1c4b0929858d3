/**
 * How every benchmark script ends: whatever happens, the processes it started
 * are stopped; exit 0 on success, 1 with the error's stack on failure.
 */
import { stopAll } from "./processes.js";
import { log } from "./report.js";

export function runBenchMain(main: () => Promise<void>): void {
  main().then(
    async () => {
      await stopAll();
      process.exit(0);
    },
    async (e) => {
      log(`bench failed: ${(e as Error).stack ?? String(e)}`);
      await stopAll();
      process.exit(1);
    },
  );
}
