/**
 * Limited-memory BFGS with a backtracking (Armijo) line search: enough for the smooth convex objective of an
 * L2-regularised logistic regression, deterministic (no sampling), and fast on a two-core machine.
 */

export interface LbfgsOptions {
  maxIterations: number;
  /** History pairs kept. */
  memory: number;
  /** Stop when the gradient's max-norm falls below this. */
  gradientTolerance: number;
}

/** Writes the gradient at x into `grad` and returns the objective. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
}

export function minimizeLbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = x0.length;
  const x = Float64Array.from(x0);
  const grad = new Float64Array(n);
  let value = objective(x, grad);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  const dir = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gradNew = new Float64Array(n);
  const alpha = new Float64Array(options.memory);
  let iterations = 0;

  for (; iterations < options.maxIterations; iterations++) {
    let gmax = 0;
    for (let i = 0; i < n; i++) gmax = Math.max(gmax, Math.abs(grad[i]!));
    if (gmax < options.gradientTolerance) break;

    // Two-loop recursion: dir = -H * grad.
    for (let i = 0; i < n; i++) dir[i] = -grad[i]!;
    for (let k = sHist.length - 1; k >= 0; k--) {
      const a = rhoHist[k]! * dot(sHist[k]!, dir);
      alpha[k] = a;
      const y = yHist[k]!;
      for (let i = 0; i < n; i++) dir[i] = dir[i]! - a * y[i]!;
    }
    if (sHist.length > 0) {
      const last = sHist.length - 1;
      const gamma = dot(sHist[last]!, yHist[last]!) / dot(yHist[last]!, yHist[last]!);
      for (let i = 0; i < n; i++) dir[i] = dir[i]! * gamma;
    }
    for (let k = 0; k < sHist.length; k++) {
      const b = rhoHist[k]! * dot(yHist[k]!, dir);
      const s = sHist[k]!;
      const a = alpha[k]!;
      for (let i = 0; i < n; i++) dir[i] = dir[i]! + (a - b) * s[i]!;
    }

    let slope = dot(grad, dir);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHist.length = 0;
      yHist.length = 0;
      rhoHist.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -grad[i]!;
      slope = dot(grad, dir);
    }

    let step = sHist.length === 0 ? 1 / Math.sqrt(-slope) : 1;
    let newValue = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * dir[i]!;
      newValue = objective(xNew, gradNew);
      if (newValue <= value + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(newValue < value)) break;

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gradNew[i]! - grad[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (sHist.length === options.memory) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
      sHist.push(s);
      yHist.push(y);
      rhoHist.push(1 / sy);
    }
    x.set(xNew);
    grad.set(gradNew);
    const improvement = value - newValue;
    value = newValue;
    if (improvement < 1e-10 * Math.max(1, Math.abs(value))) {
      iterations++;
      break;
    }
  }
  return { x, value, iterations };
}
