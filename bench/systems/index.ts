// The systems every scenario is run against, in table order. The baselines live in ../baselines.
//
// To add jetmesh: create systems/jetmesh.ts exporting a `System` (see ../scenario.ts) built on
// the library's public face (`../../runtime/index.ts`), implement enqueue, drain and latency with
// the same parameters and completion rules as ../baselines/raw-jetstream.ts, and list it here.
// scenarios.ts then runs it in every scenario it implements and reports its ratio to the baseline.
import { bullmq } from "../baselines/bullmq.ts";
import { rawJetStream } from "../baselines/raw-jetstream.ts";
import type { System } from "../scenario.ts";

export const SYSTEMS: System[] = [rawJetStream, bullmq];
