/**
 * The significance tests of a version comparison, as pure functions. Both are the textbook large
 * sample tests (two-sided, normal approximation); `p < ALPHA` is called a real difference, anything
 * else is noise. Checked against scipy's values in tests/unit/registry-compare-stats.test.ts.
 */

/** The significance level: a difference with p below it is reported as larger than the noise. */
export const ALPHA = 0.05

/**
 * The standard normal CDF via erfc (W. J. Cody's rational approximations as in Numerical Recipes'
 * erfcc, fractional error < 1.2e-7 everywhere): enough for p-values compared with 0.05.
 */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.5 * x)
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return z >= 0 ? 1 - erfc / 2 : erfc / 2
}

/** Two-sided p-value of a standard normal statistic. */
export const twoSidedP = (z: number) => Math.min(1, 2 * (1 - normalCdf(Math.abs(z))))

export type TestResult = { method: string; statistic: number; z: number; p: number; significant: boolean }

/**
 * Two-proportion z-test (pooled): are x1/n1 and x2/n2 different rates? Null when a side has no
 * trials. z > 0 when the second rate is the higher. Equal rates of 0 or 1 on both sides: z = 0, p = 1.
 */
export function twoProportionZ(x1: number, n1: number, x2: number, n2: number): TestResult | null {
  if (n1 <= 0 || n2 <= 0) return null
  const pooled = (x1 + x2) / (n1 + n2)
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
  const z = se === 0 ? 0 : (x2 / n2 - x1 / n1) / se
  const p = twoSidedP(z)
  return { method: 'two-proportion z-test', statistic: z, z, p, significant: p < ALPHA }
}

/**
 * Mann–Whitney U (Wilcoxon rank-sum), normal approximation with tie correction and continuity
 * correction, two-sided, as scipy.stats.mannwhitneyu(method='asymptotic'). `statistic` is U of the
 * first sample; z > 0 when the second sample tends to be larger. Null when a side is empty.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): TestResult | null {
  const n1 = a.length
  const n2 = b.length
  if (!n1 || !n2) return null
  const all = [...a.map((v) => ({ v, first: true })), ...b.map((v) => ({ v, first: false }))].sort((x, y) => x.v - y.v)
  const n = n1 + n2
  let rankSumA = 0
  let ties = 0
  for (let i = 0; i < n; ) {
    let j = i
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++
    const rank = (i + j + 2) / 2 // ranks i+1 .. j+1, averaged
    const t = j - i + 1
    if (t > 1) ties += t * t * t - t
    for (let k = i; k <= j; k++) if (all[k]!.first) rankSumA += rank
    i = j + 1
  }
  const u1 = rankSumA - (n1 * (n1 + 1)) / 2
  const mean = (n1 * n2) / 2
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1) || 1)))
  if (sd === 0) return { method: 'Mann–Whitney U', statistic: u1, z: 0, p: 1, significant: false }
  // U of the second sample above its mean means the second is larger: sign z that way.
  const u2 = n1 * n2 - u1
  const dev = u2 - mean
  const z = (dev - Math.sign(dev) * 0.5) / sd
  const p = twoSidedP(z)
  return { method: 'Mann–Whitney U', statistic: u1, z, p, significant: p < ALPHA }
}

/** The q-quantile of ascending values by linear interpolation (numpy's default); null when empty. */
export function quantileOf(sorted: readonly number[], q: number): number | null {
  if (!sorted.length) return null
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo)
}
