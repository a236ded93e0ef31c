/**
 * Runs the provisioner API stand-in (scripts/lib/provisioner-stand-in.ts) until stopped, for the
 * decommissioning rehearsal: `tsx scripts/provisioner-stand-in.ts <port>`. Prints its URL.
 */
import { startProvisionerStandIn } from "./lib/provisioner-stand-in";

startProvisionerStandIn(Number(process.argv[2] ?? 0)).then((standIn) => {
  process.stdout.write(`${standIn.url}\n`);
  const stop = () => void standIn.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
});
