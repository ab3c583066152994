// chronicle/nest: a NestJS module — injectable buses, handlers as providers, the projector on the app's lifecycle,
// request-scoped principal and correlation id, errors as problem+json, and chronicle-es/http's routes.

export { ChronicleModule, type ChronicleModuleAsyncOptions } from './chronicle-module.js';
export { ChronicleRequest } from './chronicle-request.js';
export type { ChronicleModuleOptions, ChronicleService } from './chronicle-runtime.js';
export {
  type ChronicleCommandHandler,
  type ChronicleQueryHandler,
  CommandHandler,
  QueryHandler,
} from './handler-decorators.js';
export { ChronicleHttpController } from './http-controller.js';
export { ChronicleExceptionFilter, problemFor, toHttpException } from './problem-exception.js';
export { CHRONICLE_OPTIONS, COMMAND_BUS, PROJECTOR, QUERY_BUS } from './tokens.js';
