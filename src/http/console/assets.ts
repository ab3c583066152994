// The console's static assets: htmx from node_modules (no build step, no CDN), its one script and its stylesheet,
// kept as strings here so the compiled package carries them without a copy step.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ChronicleError } from 'chronicle-es';

/** The minified htmx shipped by the `htmx.org` dependency. @throws INVALID_ARGUMENT when it is not installed */
export function loadHtmx(): string {
  try {
    return readFileSync(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'utf8');
  } catch (err) {
    throw new ChronicleError('INVALID_ARGUMENT', 'the console needs the htmx.org package (npm install htmx.org@^2)', {
      cause: err,
    });
  }
}

/** Live overview: swaps in the fragment the server renders and sends over SSE; nothing else needs script. */
export const CONSOLE_SCRIPT = `(function () {
  'use strict';
  var source = null;
  function connect() {
    var live = document.getElementById('live');
    if (!live || !window.EventSource) {
      if (source) { source.close(); source = null; }
      return;
    }
    if (source) return;
    source = new EventSource(live.getAttribute('data-live'));
    source.addEventListener('overview', function (event) {
      var target = document.getElementById('live');
      if (target) target.innerHTML = event.data;
    });
  }
  document.addEventListener('DOMContentLoaded', connect);
  document.addEventListener('htmx:afterSettle', connect);
})();
`;

export const CONSOLE_STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header a { color: #cfd8ff; text-decoration: none; margin-right: 1rem; }
header a[aria-current=page] { color: #fff; font-weight: 600; border-bottom: 2px solid #7aa2ff; }
header nav { display: flex; align-items: center; flex: 1; }
header .who { margin-left: auto; margin-right: .8rem; font-size: .85rem; opacity: .85; }
main { padding: 1rem 1.4rem; max-width: 1200px; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
pre { background: #fff; border: 1px solid #e3e6ec; padding: .5rem; overflow: auto; max-height: 24rem; margin: .2rem 0; white-space: pre-wrap; word-break: break-word; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 1rem; }
.card { background: #fff; border: 1px solid #e3e6ec; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.5rem; }
.chart { width: 100%; max-width: 600px; height: 120px; background: #fff; border: 1px solid #e3e6ec; }
.chart .rate rect { fill: #7aa2ff; }
.chart .lag { fill: none; stroke: #d9534f; stroke-width: 2; }
.chart text { font-size: 11px; fill: #555; }
.state-live { color: #1e7b34; font-weight: 600; }
.state-failed { color: #b02a37; font-weight: 600; }
.state-rebuilding, .state-catching_up { color: #996a00; font-weight: 600; }
.error { color: #b02a37; }
.problem { border-left: 4px solid #b02a37; background: #fff; padding: .5rem 1rem; }
.ok { border-left: 4px solid #1e7b34; background: #fff; padding: .5rem 1rem; }
form.inline { display: inline; }
button { cursor: pointer; padding: .25rem .8rem; }
button.danger { background: #b02a37; color: #fff; border: 1px solid #8a1f2a; }
label { display: block; margin: .4rem 0 .1rem; font-weight: 600; font-size: .85rem; }
input[type=text], input[type=number], select, textarea { width: 100%; max-width: 30rem; padding: .25rem; font: inherit; }
textarea { font-family: ui-monospace, monospace; min-height: 4rem; }
progress { width: 20rem; }
.pager a { margin-right: 1rem; }
.empty { color: #666; font-style: italic; }
details { margin: .4rem 0; }
.event { background: #fff; border: 1px solid #e3e6ec; padding: .5rem .8rem; margin-bottom: .6rem; }
.muted { color: #666; font-size: .85rem; }
`;
