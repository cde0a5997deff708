//! Numerical helpers shared by the process models: a fixed-step RK4
//! integrator and platform-independent random draws.
//!
//! Everything here uses IEEE arithmetic and the pure-Rust `libm`, never the
//! system libm, so results are bit-identical across machines.

use super::model::EnvRng;
use rand::RngExt;

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

/// Standard normal draw (Box–Muller with `libm`; one draw per call, the
/// second Box–Muller variate is discarded so the RNG stream does not depend
/// on hidden caching).
#[inline]
pub fn normal(rng: &mut EnvRng) -> f64 {
    // 1 - u in (0, 1] keeps ln finite.
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
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
