import type { Approvals } from '../approvals/index.js';
import type { PolicyGuard } from '../guard/index.js';
import type { Authenticator } from '../identity/index.js';
import type { LineageMasking } from '../masking/index.js';
import type { Recorder } from '../recording/types.js';
import type { Gateway } from './gateway.js';

/** Every part of a running gateway, as src/cli/assemble.ts builds it from a config. */
export interface AssembledGateway {
  gateway: Gateway;
  authenticator: Authenticator;
  recorder: Recorder;
  masking: LineageMasking;
  guard: PolicyGuard;
  approvals: Approvals | undefined;
  close(): Promise<void>;
}
