// The control plane's public face: the service, the API client, and the API's types.

export { ControlPlaneClient } from "./api/client.ts";
export type * from "./api/protocol.ts";
export { API_QUEUE_GROUP, ENDPOINTS } from "./api/protocol.ts";
export type { ConsoleOptions } from "./console/options.ts";
export type { ApiErrorBody, ApiErrorCode } from "./errors.ts";
export { ApiError } from "./errors.ts";
export type { ControlPlaneOptions } from "./options.ts";
export {
  CONTROL_PLANE_DEFAULTS,
  controlPlaneOptionsFromEnv,
  DEFAULT_CONTROL_PLANE_HTTP_PORT,
} from "./options.ts";
export type { ControlPlane } from "./service.ts";
export { buildControlPlane } from "./service.ts";
