// The ways a Shop decider says no besides a plain business rule (domainError → 422).
import { ChronicleError } from 'chronicle-es';

/** The entity a command targets does not exist, or is another customer's and so must look as if it did not (404). */
export function notFound(kind: string, id: string): ChronicleError {
  return new ChronicleError('NOT_FOUND', `${kind} ${JSON.stringify(id)} does not exist`, { details: { [`${kind}Id`]: id } });
}
