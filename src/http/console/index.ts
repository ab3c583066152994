// The web console: server-rendered pages over the event store's inspector and the projector, mounted by chronicleHttp.

export { type ConsoleOptions, consoleEnabled } from './console-options.js';
export { type ConsolePluginOptions, consolePlugin } from './console-plugin.js';
