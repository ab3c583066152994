// The overview's small SVG chart: events written per bucket as bars, projection lag as a line. Only numbers this
// code computed go into the markup.
import { html, type SafeHtml, trusted } from './escape.js';

const WIDTH = 600;
const HEIGHT = 120;

/** Bars of `rate` and a line of `lag` (oldest first), each scaled to its own maximum. */
export function rateAndLagChart(rate: readonly number[], lag: readonly number[]): SafeHtml {
  const maxRate = Math.max(1, ...rate);
  const maxLag = Math.max(1, ...lag);
  const barWidth = WIDTH / Math.max(1, rate.length);
  const bars = rate
    .map((n, i) => {
      const h = (n / maxRate) * (HEIGHT - 20);
      return `<rect x="${(i * barWidth + 1).toFixed(1)}" y="${(HEIGHT - h).toFixed(1)}" width="${Math.max(1, barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}"/>`;
    })
    .join('');
  const step = WIDTH / Math.max(1, lag.length - 1);
  const points = lag.map((n, i) => `${(i * step).toFixed(1)},${(HEIGHT - (n / maxLag) * (HEIGHT - 20)).toFixed(1)}`).join(' ');
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Write rate and projection lag">
<g class="rate">${trusted(bars)}</g>
${lag.length > 1 ? trusted(`<polyline class="lag" points="${points}"/>`) : ''}
<text x="4" y="14" class="rate-label">events/bucket max ${maxRate}</text>
<text x="${WIDTH - 4}" y="14" text-anchor="end" class="lag-label">lag max ${maxLag}</text>
</svg>`;
}
