/**
 * The local AWS emulator (moto) used by environments with target "emulator": started on a free
 * 127.0.0.1 port when none is running, remembered in `.state/<env>/emulator.json`, stopped by
 * whoever started it (or by `make local-down`).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT, ToolError } from "./terraform";

export interface Emulator {
  endpoint: string;
  port: number;
  pid: number;
  /** True when this process started it (and so should stop it). */
  started: boolean;
}

const stateFile = (envName: string) => join(REPO_ROOT, ".state", envName, "emulator.json");

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The emulator recorded for this environment, if it still answers. */
export async function runningEmulator(envName: string): Promise<Emulator | undefined> {
  const file = stateFile(envName);
  if (!existsSync(file)) return undefined;
  const rec = JSON.parse(readFileSync(file, "utf8")) as { port: number; pid: number };
  const endpoint = `http://127.0.0.1:${rec.port}`;
  return (await answers(endpoint)) ? { endpoint, port: rec.port, pid: rec.pid, started: false } : undefined;
}

/**
 * How moto is started: through scripts/lib/moto-server.py (moto_server with two RDS faults
 * corrected, see that file), by a Python that can import moto: MOTO_PYTHON, else python3, else the
 * interpreter named on moto_server's first line. MOTO_SERVER=<binary> runs that binary as it is.
 */
let found: { python: string; args: string[] } | undefined;

export function motoLaunch(): { command: string; args: string[] } {
  if (process.env.MOTO_SERVER) return { command: process.env.MOTO_SERVER, args: [] };
  // The search spawns a Python per candidate: once per process (tests start moto per file).
  if (found) return { command: found.python, args: found.args };
  const candidates = [process.env.MOTO_PYTHON, "python3"];
  const which = spawnSync("sh", ["-c", "command -v moto_server"], { encoding: "utf8" });
  if (which.status === 0) {
    const first = readFileSync(which.stdout.trim(), "utf8").split("\n", 1)[0];
    const shebang = /^#!\s*(\S*python[\d.]*)\s*$/.exec(first);
    if (shebang) candidates.push(shebang[1]);
  }
  for (const python of candidates) {
    if (python && spawnSync(python, ["-c", "import moto.server, moto.rds"], { stdio: "ignore" }).status === 0) {
      found = { python, args: [join(REPO_ROOT, "scripts", "lib", "moto-server.py")] };
      return { command: found.python, args: found.args };
    }
  }
  throw new ToolError(
    `The local AWS emulator is not installed: no Python here can import moto (tried ${candidates.filter(Boolean).join(", ")}). ` +
      `Install moto with its server (pip install 'moto[server]', or apt-get install python3-moto), or name the Python that has it ` +
      `in MOTO_PYTHON, and run the command again.`,
  );
}

export async function ensureEmulator(envName: string): Promise<Emulator> {
  const running = await runningEmulator(envName);
  if (running) return running;
  const launch = motoLaunch();
  const port = await freePort();
  mkdirSync(join(REPO_ROOT, ".state", envName), { recursive: true });
  const log = openSync(join(REPO_ROOT, ".state", envName, "emulator.log"), "a");
  const child = spawn(launch.command, [...launch.args, "-H", "127.0.0.1", "-p", String(port)], {
    detached: true,
    stdio: ["ignore", log, log],
    // Stacks attach AWS managed policies (AmazonEKSClusterPolicy, ...); moto only knows them when asked to.
    // ACM certificates are issued at once instead of after moto's default 60 s.
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true", MOTO_ACM_VALIDATION_WAIT: "0" },
  });
  child.unref();
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new ToolError(`moto_server did not start on ${endpoint} (see .state/${envName}/emulator.log).`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  writeFileSync(stateFile(envName), JSON.stringify({ port, pid: child.pid }));
  return { endpoint, port, pid: child.pid!, started: true };
}

export async function stopEmulator(envName: string, emulator?: Emulator): Promise<boolean> {
  const target = emulator ?? (await runningEmulator(envName));
  if (!target) {
    rmSync(stateFile(envName), { force: true });
    return false;
  }
  try {
    process.kill(target.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + 10_000;
  while ((await answers(target.endpoint)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  rmSync(stateFile(envName), { force: true });
  return true;
}

/** Environment variables that point AWS SDKs and the Terraform AWS provider at the emulator. */
export function emulatorEnv(emulator: Emulator, region: string): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: emulator.endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PROFILE: "",
  };
}
