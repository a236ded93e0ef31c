/**
 * Starts moto (the local AWS API emulator) on a free 127.0.0.1 port for a test file, and stops
 * it afterwards, as the emulator does (scripts/lib/emulator.ts motoLaunch). A missing moto is a failure, not a skip: .ci/run installs it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { motoLaunch } from "../../scripts/lib/emulator";

export interface Moto {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
  /** Credentials and endpoint variables for SDK clients and child processes. */
  env: Record<string, string>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const launch = motoLaunch();
  const child: ChildProcess = spawn(launch.command, [...launch.args, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
  });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d.toString()));
  const spawnError = new Promise<never>((_, reject) =>
    child.on("error", (err) => reject(new Error(`moto_server could not start (${err.message}); install moto (pip install 'moto[server]' or apt-get install python3-moto).`))),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  const ready = (async () => {
    for (;;) {
      try {
        const res = await fetch(`${endpoint}/moto-api/`);
        if (res.ok) return;
      } catch {
        /* not up yet */
      }
      if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr.slice(-500)}`);
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.race([ready, spawnError]);
  return {
    endpoint,
    port,
    env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1" },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** SDK client options that reach moto (the same the services get from AWS_ENDPOINT_URL). */
export function clientOptions(moto: Moto) {
  return { endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
}

type ClientOptions = ReturnType<typeof clientOptions>;
type ClientClass = new (options: ClientOptions) => { destroy(): void };

/**
 * moto for the enclosing describe block (or file): started before its tests, with one SDK client
 * per entry of `clients` made against it, and stopped after them, clients destroyed first.
 *
 *   const aws = useMoto({ ec2: EC2Client });
 *   it("...", async () => { await aws.ec2.send(...); aws.moto.endpoint; });
 */
export function useMoto<T extends Record<string, ClientClass>>(clients: T = {} as T): { readonly moto: Moto } & { readonly [K in keyof T]: InstanceType<T[K]> } {
  let moto: Moto | undefined;
  const made: Record<string, { destroy(): void }> = {};
  beforeAll(async () => {
    moto = await startMoto();
    for (const [name, Client] of Object.entries(clients)) made[name] = new Client(clientOptions(moto));
  }, 60_000);
  afterAll(async () => {
    for (const client of Object.values(made)) client.destroy();
    await moto?.stop();
  });
  const started = <V>(value: V | undefined): V => {
    if (value === undefined) throw new Error("moto is not started yet: use useMoto()'s clients inside tests or a later beforeAll");
    return value;
  };
  const fixture = { get moto() { return started(moto); } };
  for (const name of Object.keys(clients)) Object.defineProperty(fixture, name, { get: () => started(made[name]) });
  return fixture as { readonly moto: Moto } & { readonly [K in keyof T]: InstanceType<T[K]> };
}
