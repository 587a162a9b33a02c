// The systems every scenario is run against, in table order. The baselines live in ../baselines;
// jetmesh is in ./jetmesh.ts, once as it ships (lifecycle events on) and once with events off.
// A system takes part in the scenarios whose methods it implements (see ../scenario.ts);
// scenarios.ts reports each one's ratio to the raw-jetstream baseline.
import { bullmq } from "../baselines/bullmq.ts";
import { rawJetStream } from "../baselines/raw-jetstream.ts";
import type { System } from "../scenario.ts";
import { jetmesh, jetmeshNoEvents, jetmeshNoPrefetch } from "./jetmesh.ts";

export const SYSTEMS: System[] = [rawJetStream, bullmq, jetmesh, jetmeshNoEvents, jetmeshNoPrefetch];
