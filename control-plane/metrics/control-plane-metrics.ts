// Prometheus metrics of a control plane replica (docs/metrics.md lists every family): the
// process's own figures, and the queue and fleet figures registered by the collectors.
import { collectDefaultMetrics, Registry } from "prom-client";

export class ControlPlaneMetrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
