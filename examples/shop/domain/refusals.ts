// The ways a Shop decider says no besides a plain business rule (domainError → 422).
import { ChronicleError } from 'chronicle-es';

/** The entity a command targets does not exist (404). */
export function notFound(kind: string, id: string): ChronicleError {
  return new ChronicleError('NOT_FOUND', `${kind} ${JSON.stringify(id)} does not exist`, { details: { [`${kind}Id`]: id } });
}

/** The principal may send this command, but not about this entity (403); decided before anything is written. */
export function notYours(kind: string, id: string): ChronicleError {
  return new ChronicleError('FORBIDDEN', `${kind} ${JSON.stringify(id)} belongs to another customer`);
}
