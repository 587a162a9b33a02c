// `jetmesh control-plane`: runs the service in the foreground (what the container runs).
import type { CommandModule } from "yargs";
import { connectionSettings, type GlobalArgs } from "../context.ts";

export const controlPlaneCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "control-plane",
  describe: "Run the control plane service (status aggregation, commands, API) until SIGTERM",
  builder: (y) =>
    y
      .example("$0 control-plane", "serve the mesh at NATS_URL")
      .example(
        "JETMESH_CP_SAMPLE_INTERVAL_MS=2000 $0 control-plane -s nats://nats-1:4222",
        "sample queues every 2 s",
      )
      .epilogue("Settings come from the environment; see docs/control-plane.md (Configuration).") as never,
  handler: async (args) => {
    // Flags are turned into the environment the service reads, so both paths behave the same.
    const settings = connectionSettings(args);
    const env: NodeJS.ProcessEnv = { ...process.env, JETMESH_PREFIX: args.prefix };
    if (settings.servers !== undefined) env.NATS_URL = [settings.servers].flat().join(",");
    if (settings.credsFile !== undefined) env.NATS_CREDS = settings.credsFile;
    if (settings.user !== undefined) env.NATS_USER = settings.user;
    if (settings.password !== undefined) env.NATS_PASSWORD = settings.password;
    if (settings.token !== undefined) env.NATS_TOKEN = settings.token;
    if (settings.tlsCaFile !== undefined) env.NATS_TLS_CA = settings.tlsCaFile;
    if (settings.tlsCertFile !== undefined) env.NATS_TLS_CERT = settings.tlsCertFile;
    if (settings.tlsKeyFile !== undefined) env.NATS_TLS_KEY = settings.tlsKeyFile;
    // Loaded only here: the service's modules are not needed by the other commands.
    const { runControlPlane } = await import("../../main.ts");
    await runControlPlane(env);
    // Keep running: the service exits the process on SIGTERM/SIGINT.
    await new Promise<never>(() => {});
  },
};
