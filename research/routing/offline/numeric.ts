/**
 * The numpy/pandas primitives that RouteLLM's evaluation relies on, reproduced operation for operation so
 * that our APGR and CPT figures are computed the way RouteLLM computes them:
 *   - `quantileLinear`: numpy's default ("linear") quantile, including its `_lerp` rounding rule;
 *   - `qcutEdges`: the bin edges of `pd.qcut(x, q, retbins=True)` (pandas asks numpy for the percentiles
 *     `linspace(0, 1, q + 1) * 100`);
 *   - `trapz`: `np.trapz(y, x)`;
 *   - `interp`: `np.interp(x, xp, fp)` for one x, including numpy's search on an xp that is not sorted
 *     (RouteLLM passes router accuracies, which need not increase with the share of strong calls).
 * @see https://github.com/lm-sys/RouteLLM/blob/main/routellm/evals/benchmarks.py
 * @see https://github.com/numpy/numpy/blob/main/numpy/lib/_function_base_impl.py (_quantile, _lerp, trapz)
 * @see https://github.com/numpy/numpy/blob/main/numpy/_core/src/multiarray/compiled_base.c (arr_interp)
 */

function lerp(a: number, b: number, t: number): number {
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** numpy `quantile(values, q)` with method "linear", on values already sorted ascending. */
export function quantileLinear(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('quantile of an empty sample');
  const virtual = (n - 1) * q;
  const previous = Math.floor(virtual);
  const lo = Math.min(Math.max(previous, 0), n - 1);
  const hi = Math.min(Math.max(previous + 1, 0), n - 1);
  return lerp(sorted[lo]!, sorted[hi]!, virtual - previous);
}

/** `np.linspace(0, 1, count)` element by element. */
export function linspace01(count: number): number[] {
  const step = 1 / (count - 1);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(i * step);
  out[count - 1] = 1;
  return out;
}

/** The `bins` returned by `pd.qcut(values, q, retbins=True)`: q + 1 edges from the minimum to the maximum. */
export function qcutEdges(values: ArrayLike<number>, q: number): number[] {
  const sorted = Float64Array.from(values).sort();
  // pandas hands numpy percentiles (q * 100), which numpy divides by 100 again.
  return linspace01(q + 1).map((p) => quantileLinear(sorted, (p * 100) / 100));
}

/** `np.trapz(y, x)`. */
export function trapz(y: readonly number[], x: readonly number[]): number {
  let total = 0;
  for (let i = 0; i + 1 < x.length; i++) total += ((x[i + 1]! - x[i]!) * (y[i + 1]! + y[i]!)) / 2;
  return total;
}

const LIKELY_IN_CACHE_SIZE = 8;

/** numpy's `binary_search_with_guess`, verbatim in behaviour (also when `arr` is not sorted). */
function binarySearchWithGuess(key: number, arr: readonly number[], len: number, guessIn: number): number {
  let imin = 0;
  let imax = len;
  if (key > arr[len - 1]!) return len;
  if (key < arr[0]!) return -1;
  if (len <= 4) {
    let i = 1;
    while (i < len && key >= arr[i]!) i++;
    return i - 1;
  }
  let guess = guessIn;
  if (guess > len - 3) guess = len - 3;
  if (guess < 1) guess = 1;
  if (key < arr[guess]!) {
    if (key < arr[guess - 1]!) {
      imax = guess - 1;
      if (guess > LIKELY_IN_CACHE_SIZE && key >= arr[guess - LIKELY_IN_CACHE_SIZE]!) {
        imin = guess - LIKELY_IN_CACHE_SIZE;
      }
    } else {
      return guess - 1;
    }
  } else if (key < arr[guess + 1]!) {
    return guess;
  } else if (key < arr[guess + 2]!) {
    return guess + 1;
  } else {
    imin = guess + 2;
    if (guess < len - LIKELY_IN_CACHE_SIZE - 1 && key < arr[guess + LIKELY_IN_CACHE_SIZE]!) {
      imax = guess + LIKELY_IN_CACHE_SIZE;
    }
  }
  while (imin < imax) {
    const imid = imin + ((imax - imin) >> 1);
    if (key >= arr[imid]!) imin = imid + 1;
    else imax = imid;
  }
  return imin - 1;
}

/** `np.interp(x, xp, fp)` for a scalar x, with numpy's default left/right fill values. */
export function interp(x: number, xp: readonly number[], fp: readonly number[]): number {
  const len = xp.length;
  if (len === 0) throw new Error('interp: empty sample points');
  if (Number.isNaN(x)) return x;
  if (len === 1) return fp[0]!;
  const j = binarySearchWithGuess(x, xp, len, 0);
  if (j === -1) return fp[0]!;
  if (j === len) return fp[len - 1]!;
  if (j === len - 1) return fp[j]!;
  if (xp[j] === x) return fp[j]!;
  const slope = (fp[j + 1]! - fp[j]!) / (xp[j + 1]! - xp[j]!);
  let result = slope * (x - xp[j]!) + fp[j]!;
  if (Number.isNaN(result)) {
    result = slope * (x - xp[j + 1]!) + fp[j + 1]!;
    if (Number.isNaN(result) && fp[j] === fp[j + 1]) result = fp[j]!;
  }
  return result;
}

/** Mulberry32: a small seeded PRNG, so that splits, random baselines and bootstraps are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
