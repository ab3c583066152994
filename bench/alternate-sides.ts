// harness.ts's `alternate` for more than two sides: a workload measured by several implementations (a bare client
// call, a hand-written floor, Chronicle), one round of each in turn, the order reversed every other round so drift
// in the machine's load touches all alike; each side's median round printed, compared with the side it names.
import { type BenchResult, cpuVersus, lineOf, rateOf, report, type Sample, type Side, sample, versus } from './harness.js';

/** A side, and the earlier side (by name) its `baseline`, `ratio` and `cpuRatio` are taken against. */
export type ComparedSide = Side & {
  versus?: string;
  /** Further earlier sides whose ratio is said in the note (`ratio <x>× vs <name>`). */
  alsoVersus?: string[];
};

/**
 * Measures `sides` in turn for `rounds` rounds (listed order in even rounds, reversed in odd ones) and prints each
 * side's median round (by rate), with every round's rate in `rounds`. Sides are printed in the listed order, so a side
 * can only be compared with one listed before it.
 */
export async function alternateSides(rounds: number, sides: readonly ComparedSide[]): Promise<BenchResult[]> {
  const samples = new Map<ComparedSide, Sample[]>(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      await side.before?.(round);
      samples.get(side)!.push(await sample(side.options, (i) => side.op(i, round)));
    }
  }
  const printed = new Map<string, BenchResult>();
  return sides.map((side) => {
    const all = samples.get(side)!;
    const sorted = [...all].sort((x, y) => rateOf(side.options, x) - rateOf(side.options, y));
    const line = lineOf(side.name, side.options, sorted[(sorted.length - 1) >> 1]);
    const base = side.versus === undefined ? undefined : printed.get(side.versus);
    const others = (side.alsoVersus ?? [])
      .map((name) => printed.get(name))
      .filter((other): other is BenchResult => other !== undefined)
      .map((other) => `ratio ${(line.rate / other.rate).toFixed(2)}× vs ${other.name}`);
    const result = report({
      ...line,
      ...(base && { ...versus(base, line.rate), ...cpuVersus(base, line) }),
      ...(others.length > 0 && { note: [line.note, ...others].filter(Boolean).join('; ') }),
      rounds: all.map((x) => rateOf(side.options, x)),
    });
    printed.set(side.name, result);
    return result;
  });
}
