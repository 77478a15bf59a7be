/**
 * Nelder–Mead simplex minimisation: derivative free and deterministic, enough for the handful of
 * parameters an efficiency curve has. Parameters should be transformed to be unconstrained.
 */
export interface MinimizeResult {
  x: number[];
  value: number;
}

export function nelderMead(f: (x: number[]) => number, start: readonly number[], iterations = 2000, step = 0.5): MinimizeResult {
  const n = start.length;
  let simplex: number[][] = [start.slice()];
  for (let i = 0; i < n; i++) {
    const x = start.slice();
    x[i] = x[i] + step;
    simplex.push(x);
  }
  let values = simplex.map(f);
  for (let it = 0; it < iterations; it++) {
    const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
    simplex = order.map((i) => simplex[i]);
    values = order.map((i) => values[i]);
    if (values[n] - values[0] < 1e-14 * (1 + Math.abs(values[0]))) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i][j] / n;
    const worst = simplex[n];
    const along = (t: number) => centroid.map((c, j) => c + t * (c - worst[j]));
    const reflected = along(1);
    const fr = f(reflected);
    if (fr < values[0]) {
      const expanded = along(2);
      const fe = f(expanded);
      [simplex[n], values[n]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[n - 1]) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = along(-0.5);
      const fc = f(contracted);
      if (fc < values[n]) {
        [simplex[n], values[n]] = [contracted, fc];
      } else {
        const best = simplex[0];
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i].map((v, j) => best[j] + 0.5 * (v - best[j]));
          values[i] = f(simplex[i]);
        }
      }
    }
  }
  let bestIndex = 0;
  for (let i = 1; i <= n; i++) if (values[i] < values[bestIndex]) bestIndex = i;
  return { x: simplex[bestIndex], value: values[bestIndex] };
}
