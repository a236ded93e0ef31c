/**
 * `npm run bench`, Kubernetes half: render (Helm), schema and policy over every shipped
 * environment, in a fresh process; prints one JSON line (the seconds exclude synthesis, which
 * the synth row measures).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { synthesize } from "../lib/synth";
import { helmBinary } from "./helm";
import { verifyKubernetes } from "./kubernetes";

async function main(): Promise<void> {
  helmBinary(); // fetched once and cached: not part of the figure
  const work = mkdtempSync(join(tmpdir(), "cnc-bench-kube-"));
  try {
    const stacks = synthesize({ outdir: join(work, "cdktf.out") });
    const started = Date.now();
    const report = await verifyKubernetes(stacks, { log: () => undefined });
    const seconds = (Date.now() - started) / 1000;
    const findings = report.schemaFindings.length + report.policyFindings.length;
    console.log(JSON.stringify({ releases: report.releases.length, objects: report.objects, findings, seconds, environments: [...new Set(stacks.map((s) => s.env.name))] }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
