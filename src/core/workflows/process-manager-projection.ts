// SCAFFOLD (to be replaced by the process manager work): the runtime's public shape only.
import { ChronicleError } from '../errors.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProcessManager } from './define-process-manager.js';
import type { ScheduleWriter } from './scheduler.js';
import type { WorkflowDeps } from './workflow-types.js';

/** The projection that runs `pm`: its steps, its state and its sent commands, checkpointed together. */
export function processManagerProjection(
  pm: ProcessManager<any>,
  _deps: WorkflowDeps,
  _schedules: ScheduleWriter,
): Projection<any> {
  throw new ChronicleError('INVALID_ARGUMENT', `process manager ${pm.name}: not built yet`);
}
