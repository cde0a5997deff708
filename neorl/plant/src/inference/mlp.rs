//! A multi-layer perceptron on the host: affine layers with ReLU between
//! them and a linear output, evaluated with plain loops in a fixed order.
//!
//! This is the inference half of the networks the agents train (`neorl`'s
//! `agents::nets::Mlp`, which copies one ensemble member here with
//! `Mlp::host`). Plain loops beat a tensor library at batch size one: no
//! dispatch, no allocation after the first call, and the same bits on every
//! machine.

/// A host copy of one MLP for fast deterministic inference on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct HostMlp {
    /// Layer widths, input first: `sizes[l] → sizes[l + 1]`.
    pub sizes: Vec<usize>,
    /// Per layer, `in × out` row-major.
    pub weights: Vec<Vec<f32>>,
    pub biases: Vec<Vec<f32>>,
}

impl HostMlp {
    /// The input width.
    pub fn input_dim(&self) -> usize {
        self.sizes.first().copied().unwrap_or(0)
    }

    /// The output width.
    pub fn output_dim(&self) -> usize {
        self.sizes.last().copied().unwrap_or(0)
    }

    /// Whether every weight and bias has the length its layer's widths
    /// say (a network read from a file is checked with this before use).
    pub fn is_consistent(&self) -> bool {
        let layers = self.sizes.len().saturating_sub(1);
        layers > 0
            && self.weights.len() == layers
            && self.biases.len() == layers
            && self
                .sizes
                .windows(2)
                .zip(&self.weights)
                .zip(&self.biases)
                .all(|((io, w), b)| matches!(io, [i, o] if w.len() == i * o && b.len() == *o))
    }

    /// Forward one input; `a` and `b` are scratch buffers; returns the output
    /// (in one of them).
    pub fn forward<'s>(&self, x: &[f32], a: &'s mut Vec<f32>, b: &'s mut Vec<f32>) -> &'s [f32] {
        a.clear();
        a.extend_from_slice(x);
        let layers = self.weights.len();
        let (mut cur, mut nxt) = (a, b);
        for l in 0..layers {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            nxt.clear();
            nxt.extend_from_slice(&self.biases[l]);
            let w = &self.weights[l];
            for (k, &xk) in cur[..i].iter().enumerate() {
                let row = &w[k * o..(k + 1) * o];
                for (y, &wk) in nxt.iter_mut().zip(row) {
                    *y += xk * wk;
                }
            }
            if l + 1 < layers {
                for y in nxt.iter_mut() {
                    *y = y.max(0.0);
                }
            }
            std::mem::swap(&mut cur, &mut nxt);
        }
        cur
    }
}
