#!/usr/bin/env python3
"""The JAX peer of `neorl bench train --algo td3bc`: the same TD3+BC update
(Fujimoto & Gu 2021, CORL's defaults) at the same shapes, jit-compiled by XLA
on the CPU, timed the same way (whole updates, minibatches sampled on the
host each step, after a warm-up).

Shapes: batch 256, actor and twin critics with two hidden layers of 256,
ChemicalReactor-v0's sizes (7 observations, 1 action) unless told otherwise.
One update = the twin critics' step every time, the actor's step and the
Polyak updates of both targets every second time (policy_freq 2), as in
neorl's `agents/td3bc.rs` and CORL's `td3_bc.py`. Adam and the MLPs are
written here on jax.numpy (no flax/optax needed).

Set up and run (CPU JAX from PyPI; not needed by neorl's tests):

    python3 -m venv /tmp/jaxvenv && /tmp/jaxvenv/bin/pip install jax
    /tmp/jaxvenv/bin/python neorl/bench/jax_td3bc.py --seconds 10          # both cores
    taskset -c 0 /tmp/jaxvenv/bin/python neorl/bench/jax_td3bc.py ...      # one core

and beside it, in the same loop, `neorl bench train --algo td3bc --json`.
Prints one JSON object: updates_per_s, the JAX version, the devices.
"""

import argparse
import json
import os
import time

import numpy as np
import jax
import jax.numpy as jnp


def mlp_init(key, sizes):
    """PyTorch's nn.Linear default: uniform in ±1/sqrt(fan_in)."""
    params = []
    for fan_in, out in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(fan_in)
        params.append(
            (
                jax.random.uniform(kw, (fan_in, out), jnp.float32, -bound, bound),
                jax.random.uniform(kb, (out,), jnp.float32, -bound, bound),
            )
        )
    return params


def mlp(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i + 1 < len(params):
            x = jax.nn.relu(x)
    return x


def adam_init(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"m": zeros, "v": zeros, "t": jnp.zeros((), jnp.int32)}


def adam_step(params, grads, opt, lr, b1=0.9, b2=0.999, eps=1e-8):
    t = opt["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], grads)
    bc1 = 1 - b1 ** t.astype(jnp.float32)
    bc2 = 1 - b2 ** t.astype(jnp.float32)
    params = jax.tree_util.tree_map(
        lambda p, m, v: p - lr * (m / bc1) / (jnp.sqrt(v / bc2) + eps), params, m, v
    )
    return params, {"m": m, "v": v, "t": t}


def polyak(target, online, tau):
    return jax.tree_util.tree_map(lambda t, o: (1 - tau) * t + tau * o, target, online)


CFG = dict(lr=3e-4, discount=0.99, tau=0.005, policy_noise=0.2, noise_clip=0.5, alpha=2.5)


def critic_q(critics, obs, act):
    x = jnp.concatenate([obs, act], axis=-1)
    return mlp(critics[0], x), mlp(critics[1], x)


@jax.jit
def critic_update(state, batch, key):
    obs, act, rew, next_obs, done = batch
    noise = jnp.clip(
        jax.random.normal(key, act.shape) * CFG["policy_noise"],
        -CFG["noise_clip"],
        CFG["noise_clip"],
    )
    next_a = jnp.clip(jnp.tanh(mlp(state["actor_t"], next_obs)) + noise, -1.0, 1.0)
    q1_t, q2_t = critic_q(state["critic_t"], next_obs, next_a)
    y = rew + CFG["discount"] * (1.0 - done) * jnp.minimum(q1_t, q2_t)
    y = jax.lax.stop_gradient(y)

    def loss(critics):
        q1, q2 = critic_q(critics, obs, act)
        return jnp.mean((q1 - y) ** 2) + jnp.mean((q2 - y) ** 2)

    value, grads = jax.value_and_grad(loss)(state["critic"])
    critic, opt = adam_step(state["critic"], grads, state["critic_opt"], CFG["lr"])
    return {**state, "critic": critic, "critic_opt": opt}, value


@jax.jit
def actor_update(state, batch):
    obs, act = batch[0], batch[1]

    def loss(actor):
        pi = jnp.tanh(mlp(actor, obs))
        q = mlp(state["critic"][0], jnp.concatenate([obs, pi], axis=-1))
        lam = jax.lax.stop_gradient(CFG["alpha"] / jnp.mean(jnp.abs(q)))
        return -lam * jnp.mean(q) + jnp.mean((pi - act) ** 2)

    value, grads = jax.value_and_grad(loss)(state["actor"])
    actor, opt = adam_step(state["actor"], grads, state["actor_opt"], CFG["lr"])
    return {
        **state,
        "actor": actor,
        "actor_opt": opt,
        "actor_t": polyak(state["actor_t"], actor, CFG["tau"]),
        "critic_t": polyak(state["critic_t"], state["critic"], CFG["tau"]),
    }, value


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--obs-dim", type=int, default=7)
    p.add_argument("--act-dim", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    p.add_argument("--transitions", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    od, ad, h = a.obs_dim, a.act_dim, a.hidden
    key = jax.random.PRNGKey(0)
    k1, k2, k3, key = jax.random.split(key, 4)
    actor = mlp_init(k1, [od, *h, ad])
    critic = [mlp_init(k2, [od + ad, *h, 1]), mlp_init(k3, [od + ad, *h, 1])]
    state = {
        "actor": actor,
        "actor_t": actor,
        "critic": critic,
        "critic_t": critic,
        "actor_opt": adam_init(actor),
        "critic_opt": adam_init(critic),
    }
    rng = np.random.default_rng(0)
    n = a.transitions
    data = (
        rng.standard_normal((n, od), np.float32),
        rng.uniform(-1, 1, (n, ad)).astype(np.float32),
        rng.standard_normal((n, 1), np.float32),
        rng.standard_normal((n, od), np.float32),
        np.zeros((n, 1), np.float32),
    )

    def sample():
        idx = rng.integers(0, n, a.batch)
        return tuple(jnp.asarray(c[idx]) for c in data)

    step = 0

    def update(state, step, key):
        key, sub = jax.random.split(key)
        batch = sample()
        state, closs = critic_update(state, batch, sub)
        if (step + 1) % 2 == 0:
            state, _ = actor_update(state, batch)
        return state, closs, key

    for _ in range(10):  # compile and warm up
        state, closs, key = update(state, step, key)
        step += 1
    jax.block_until_ready(state)
    start = time.perf_counter()
    updates = 0
    while time.perf_counter() - start < a.seconds or updates < 10:
        state, closs, key = update(state, step, key)
        step += 1
        updates += 1
        # neorl reads its metrics back every update; so does this
        float(closs)
    jax.block_until_ready(state)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "peer": "jax_td3bc",
                "jax": jax.__version__,
                "devices": [str(d) for d in jax.devices()],
                "cpus_allowed": len(os.sched_getaffinity(0)),
                "batch": a.batch,
                "hidden": h,
                "obs_dim": od,
                "act_dim": ad,
                "updates_per_s": updates / elapsed,
            }
        )
    )


if __name__ == "__main__":
    main()
