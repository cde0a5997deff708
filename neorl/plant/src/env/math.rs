//! Numerical helpers shared by the process models: a fixed-step RK4
//! integrator and platform-independent random draws.
//!
//! Everything here uses IEEE arithmetic and the pure-Rust `libm`, never the
//! system libm, so results are bit-identical across machines.

use super::model::EnvRng;
use rand::{Rng, RngExt};

/// One classical fourth-order Runge–Kutta step of `dx/dt = f(x)` of size `h`,
/// in place. `f(x, dxdt)` writes the derivative.
#[inline]
pub fn rk4<const N: usize>(x: &mut [f64; N], h: f64, mut f: impl FnMut(&[f64; N], &mut [f64; N])) {
    let mut k1 = [0.0; N];
    let mut k2 = [0.0; N];
    let mut k3 = [0.0; N];
    let mut k4 = [0.0; N];
    let mut tmp = [0.0; N];
    f(x, &mut k1);
    for i in 0..N {
        tmp[i] = x[i] + 0.5 * h * k1[i];
    }
    f(&tmp, &mut k2);
    for i in 0..N {
        tmp[i] = x[i] + 0.5 * h * k2[i];
    }
    f(&tmp, &mut k3);
    for i in 0..N {
        tmp[i] = x[i] + h * k3[i];
    }
    f(&tmp, &mut k4);
    for i in 0..N {
        x[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
}

/// `n` RK4 sub-steps covering `dt` (for stiff-ish dynamics inside one control interval).
#[inline]
pub fn rk4_substeps<const N: usize>(
    x: &mut [f64; N],
    dt: f64,
    n: usize,
    mut f: impl FnMut(&[f64; N], &mut [f64; N]),
) {
    let h = dt / n as f64;
    for _ in 0..n {
        rk4(x, h, &mut f);
    }
}

/// `e^{M}` of an `n × n` row-major matrix by scaling and squaring of the
/// Taylor series. Only + − × ÷, so the result is bit-identical on every
/// machine: exact discretisations of linear models (zero-order hold) use it
/// once at construction.
pub fn expm(m: &[f64], n: usize) -> Vec<f64> {
    let norm = |x: &[f64]| -> f64 {
        (0..n)
            .map(|j| (0..n).map(|i| x[i * n + j].abs()).sum::<f64>())
            .fold(0.0, f64::max)
    };
    let matmul = |x: &[f64], y: &[f64]| -> Vec<f64> {
        let mut z = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                let xik = x[i * n + k];
                if xik != 0.0 {
                    for j in 0..n {
                        z[i * n + j] += xik * y[k * n + j];
                    }
                }
            }
        }
        z
    };
    let mut scale = 1.0;
    let mut squarings = 0;
    let nm = norm(m);
    while nm * scale > 0.5 {
        scale *= 0.5;
        squarings += 1;
    }
    let a: Vec<f64> = m.iter().map(|v| v * scale).collect();
    let mut e = vec![0.0; n * n];
    let mut term = vec![0.0; n * n];
    for i in 0..n {
        e[i * n + i] = 1.0;
        term[i * n + i] = 1.0;
    }
    for k in 1..=30 {
        term = matmul(&term, &a);
        let inv_k = 1.0 / k as f64;
        term.iter_mut().for_each(|v| *v *= inv_k);
        e.iter_mut().zip(&term).for_each(|(ei, ti)| *ei += ti);
        if norm(&term) < 1e-20 {
            break;
        }
    }
    for _ in 0..squarings {
        e = matmul(&e, &e);
    }
    e
}

/// Uniform draw in `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform(rng: &mut EnvRng) -> f64 {
    rng.random::<f64>()
}

/// Uniform draw in `[lo, hi)`.
#[inline]
pub fn uniform_in(rng: &mut EnvRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * uniform(rng)
}

/// Standard normal draw by the ziggurat method (Marsaglia & Tsang 2000, in
/// Doornik's 2005 ZIGNOR form with 128 layers and independent layer bits).
///
/// 99% of draws cost one `u64` from the RNG, a multiply and a compare; the
/// rest (layer edges and the tail beyond `R`) use `libm::exp`/`libm::log`.
/// The layer tables are computed once with `libm`, so draws are bit-identical
/// on every platform. The number of RNG words a draw consumes depends on the
/// values drawn, but deterministically so: the stream is the same everywhere.
#[inline]
pub fn normal(rng: &mut EnvRng) -> f64 {
    let z = ziggurat();
    loop {
        let bits = rng.next_u64();
        let i = (bits & 0x7f) as usize;
        // Top 53 bits → u uniform in [-1, 1).
        let u = 2.0 * ((bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)) - 1.0;
        if u.abs() < z.r[i] {
            return u * z.x[i];
        }
        if i == 0 {
            return normal_tail(rng, u < 0.0);
        }
        let x = u * z.x[i];
        let f0 = libm::exp(-0.5 * (z.x[i] * z.x[i] - x * x));
        let f1 = libm::exp(-0.5 * (z.x[i + 1] * z.x[i + 1] - x * x));
        if f1 + uniform(rng) * (f0 - f1) < 1.0 {
            return x;
        }
    }
}

/// Two independent standard normal draws.
#[inline]
pub fn normal_pair(rng: &mut EnvRng) -> (f64, f64) {
    let a = normal(rng);
    (a, normal(rng))
}

const ZIG_LAYERS: usize = 128;
const ZIG_R: f64 = 3.442_619_855_899;
const ZIG_V: f64 = 9.912_563_035_262_17e-3;

struct Ziggurat {
    x: [f64; ZIG_LAYERS + 1],
    r: [f64; ZIG_LAYERS],
}

fn ziggurat() -> &'static Ziggurat {
    static Z: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    Z.get_or_init(|| {
        let mut x = [0.0; ZIG_LAYERS + 1];
        let mut f = libm::exp(-0.5 * ZIG_R * ZIG_R);
        x[0] = ZIG_V / f;
        x[1] = ZIG_R;
        x[ZIG_LAYERS] = 0.0;
        for i in 2..ZIG_LAYERS {
            x[i] = libm::sqrt(-2.0 * libm::log(ZIG_V / x[i - 1] + f));
            f = libm::exp(-0.5 * x[i] * x[i]);
        }
        let mut r = [0.0; ZIG_LAYERS];
        for i in 0..ZIG_LAYERS {
            r[i] = x[i + 1] / x[i];
        }
        Ziggurat { x, r }
    })
}

/// Draw from the normal tail beyond `ZIG_R` (Marsaglia 1964).
#[cold]
fn normal_tail(rng: &mut EnvRng, negative: bool) -> f64 {
    loop {
        let x = libm::log(1.0 - uniform(rng)) / ZIG_R;
        let y = libm::log(1.0 - uniform(rng));
        if -2.0 * y >= x * x {
            return if negative { x - ZIG_R } else { ZIG_R - x };
        }
    }
}

/// Gaussian draw with mean `mu` and standard deviation `sigma`.
#[inline]
pub fn gaussian(rng: &mut EnvRng, mu: f64, sigma: f64) -> f64 {
    mu + sigma * normal(rng)
}

/// Poisson-process event: true with probability `1 - exp(-rate * dt)`.
#[inline]
pub fn event(rng: &mut EnvRng, rate_per_s: f64, dt: f64) -> bool {
    uniform(rng) < 1.0 - libm::exp(-rate_per_s * dt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rk4_matches_exponential_decay() {
        // dx/dt = -x, x(0) = 1 → x(1) = e^-1; RK4 global error O(h^4).
        let mut x = [1.0];
        rk4_substeps(&mut x, 1.0, 100, |x, d| d[0] = -x[0]);
        assert!((x[0] - libm::exp(-1.0)).abs() < 1e-10, "{}", x[0]);
    }

    /// Kolmogorov–Smirnov against the exact normal CDF: at n = 200 000 the
    /// 1% critical value of D is 1.63/√n ≈ 0.0036.
    #[test]
    fn normal_passes_kolmogorov_smirnov() {
        let mut rng = EnvRng::seed_from_u64(3);
        let n = 200_000;
        let mut xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        xs.sort_by(|a, b| a.total_cmp(b));
        let cdf = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let d = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let c = cdf(x);
                (c - i as f64 / n as f64)
                    .abs()
                    .max(((i + 1) as f64 / n as f64 - c).abs())
            })
            .fold(0.0, f64::max);
        assert!(d < 1.63 / (n as f64).sqrt(), "KS distance {d}");
        // The tail beyond R ≈ 3.44 is reached and has the right mass (2·Φ(−R) ≈ 5.8e-4).
        let tail = xs.iter().filter(|x| x.abs() > ZIG_R).count() as f64 / n as f64;
        assert!(
            (tail - 2.0 * cdf(-ZIG_R)).abs() < 2.5e-4,
            "tail mass {tail}"
        );
    }

    #[test]
    fn expm_matches_closed_forms() {
        // Rotation generator: e^{[[0, -t], [t, 0]]} = [[cos t, -sin t], [sin t, cos t]].
        let t = 2.5;
        let e = expm(&[0.0, -t, t, 0.0], 2);
        let want = [libm::cos(t), -libm::sin(t), libm::sin(t), libm::cos(t)];
        for (a, b) in e.iter().zip(want) {
            assert!((a - b).abs() < 1e-13, "{e:?}");
        }
        // Diagonal with a large entry (exercises scaling and squaring).
        let e = expm(&[-30.0, 0.0, 0.0, 3.0], 2);
        assert!(
            (e[0] / libm::exp(-30.0) - 1.0).abs() < 1e-10
                && (e[3] / libm::exp(3.0) - 1.0).abs() < 1e-12
        );
        assert_eq!((e[1], e[2]), (0.0, 0.0));
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = EnvRng::seed_from_u64(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }
}
