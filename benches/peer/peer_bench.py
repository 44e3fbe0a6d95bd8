"""neural-tangents (JAX, CPU) timed on the workloads of `benches/workloads.rs`.

Run it on one core with single-threaded XLA (see README.md beside this file).
Workloads (the same ids, inputs of the same distribution):
  E1  empirical NTK Gram, MLP D=16 -> 128 -> 128 -> 1 (ReLU), N=128, float32
  E2  empirical NTK Gram, MLP D=16 -> 512 -> 512 -> 1 (ReLU), N=256, float32
  A1  analytic NTK+NNGP Gram, dense(1.5,0.1) relu x3 + dense, N=512, D=16, float64
  R1  gradient-flow MSE prediction at t=10, 256 train x 256 test, float64, eigh included
  C1  analytic NTK+NNGP Gram of a 1-D CNN: [conv(3,1.5,0.1) relu] x3, gap, dense(1.5,0.1);
      N=64 sequences of L=32 positions x C=4 channels, 'SAME' padding, float64
  C2  empirical NTK Gram of a finite 1-D CNN: Conv(4->64, 3, SAME) relu Conv(64->64, 3, SAME) relu
      GlobalAvgPool Dense(64->1), NTK parameterization, N=64, L=32, C=4, float32
  T1  analytic NTK+NNGP Gram with self-attention: dense(1,0) relu attn(1,1,1,1) relu gap dense(1,0);
      N=32 sequences of L=16 x C=8, linear_scaling=True softmax attention, float64
  S1  empirical NTK Gram of an Elman RNN: h_t = relu(1.5 W h_{t-1}/sqrt(H) + U x_t/sqrt(D) + 0.1 b),
      f = v . h_L / sqrt(H); H=128, D=4, L=16, N=64, float32 (no RNN layer in stax: a lax.scan)
Prints: name seconds (median of 7 after warm-up)
"""
import sys, time
import numpy as np
from jax import config
config.update("jax_enable_x64", True)
import jax, jax.numpy as jnp
from jax.experimental import disable_x64
import neural_tangents as nt
from neural_tangents import stax

def med(f, reps=7):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return float(np.median(ts))

def empirical(width, n, impl):
    init, apply, _ = stax.serial(stax.Dense(width), stax.Relu(), stax.Dense(width), stax.Relu(), stax.Dense(1))
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (n, 16), dtype=jnp.float32)
    _, params = init(key, x.shape)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)
    fn = jax.jit(nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0, implementation=impl))
    return med(lambda: fn(x, None, params).block_until_ready())

def analytic(n):
    layers = []
    for _ in range(3):
        layers += [stax.Dense(1, W_std=1.5, b_std=0.1), stax.Relu()]
    layers += [stax.Dense(1, W_std=1.5, b_std=0.1)]
    _, _, kfn = stax.serial(*layers)
    x = jax.random.normal(jax.random.PRNGKey(1), (n, 16), dtype=jnp.float64)
    kfn = jax.jit(kfn, static_argnames="get")
    return med(lambda: kfn(x, None, get=("nngp", "ntk")).ntk.block_until_ready())

def regression(n_train=256, n_test=256, t=10.0):
    """R1: gradient-flow MSE predictions at finite time t from precomputed kernels (f64)."""
    layers = []
    for _ in range(3):
        layers += [stax.Dense(1, W_std=1.5, b_std=0.1), stax.Relu()]
    layers += [stax.Dense(1, W_std=1.5, b_std=0.1)]
    _, _, kfn = stax.serial(*layers)
    x = jax.random.normal(jax.random.PRNGKey(2), (n_train, 16), dtype=jnp.float64)
    xt = jax.random.normal(jax.random.PRNGKey(3), (n_test, 16), dtype=jnp.float64)
    y = jnp.sin(x[:, :1])
    k_dd = kfn(x, None, "ntk"); k_td = kfn(xt, x, "ntk")
    def run():
        pred = nt.predict.gradient_descent_mse(k_dd, y, learning_rate=1.0, diag_reg=1e-6)
        return pred(t, 0.0, 0.0, k_td)[1].block_until_ready()
    return med(run)



def cntk(n=64, l=32, c=4):
    layers = []
    for _ in range(3):
        layers += [stax.Conv(1, (3,), padding="SAME", W_std=1.5, b_std=0.1), stax.Relu()]
    layers += [stax.GlobalAvgPool(), stax.Dense(1, W_std=1.5, b_std=0.1)]
    _, _, kfn = stax.serial(*layers)
    x = jax.random.normal(jax.random.PRNGKey(4), (n, l, c), dtype=jnp.float64)
    kfn = jax.jit(kfn, static_argnames="get")
    return med(lambda: kfn(x, None, get=("nngp", "ntk")).ntk.block_until_ready())

def conv_empirical(impl, n=64, l=32, c=4, width=64):
    with disable_x64():  # stax.Conv promotes float32 to float64 when x64 is on
        return _conv_empirical(impl, n, l, c, width)

def _conv_empirical(impl, n, l, c, width):
    init, apply, _ = stax.serial(stax.Conv(width, (3,), padding="SAME"), stax.Relu(),
                                 stax.Conv(width, (3,), padding="SAME"), stax.Relu(),
                                 stax.GlobalAvgPool(), stax.Dense(1))
    key = jax.random.PRNGKey(5)
    x = jax.random.normal(key, (n, l, c), dtype=jnp.float32)
    _, params = init(key, x.shape)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)
    fn = jax.jit(nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0, implementation=impl))
    return med(lambda: fn(x, None, params).block_until_ready())

def attention(n=32, l=16, c=8):
    _, _, kfn = stax.serial(stax.Dense(1, W_std=1.0, b_std=0.0), stax.Relu(),
                            stax.GlobalSelfAttention(1, 1, 1, 1, linear_scaling=True),
                            stax.Relu(), stax.GlobalAvgPool(), stax.Dense(1, W_std=1.0, b_std=0.0))
    x = jax.random.normal(jax.random.PRNGKey(6), (n, l, c), dtype=jnp.float64)
    kfn = jax.jit(kfn, static_argnames="get")
    return med(lambda: kfn(x, None, get=("nngp", "ntk")).ntk.block_until_ready())

def rnn_empirical(impl, n=64, l=16, d=4, h=128):
    with disable_x64():
        return _rnn_empirical(impl, n, l, d, h)

def _rnn_empirical(impl, n, l, d, h):
    key = jax.random.PRNGKey(7)
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    params = dict(w=jax.random.normal(k1, (h, h), jnp.float32), u=jax.random.normal(k2, (h, d), jnp.float32),
                  b=jax.random.normal(k3, (h,), jnp.float32), v=jax.random.normal(k4, (h,), jnp.float32))
    def apply(p, x):  # x: (n, l, d)
        def step(hs, xt):
            return jax.nn.relu(1.5 * hs @ p["w"].T / jnp.sqrt(h) + xt @ p["u"].T / jnp.sqrt(d) + 0.1 * p["b"]), None
        hs, _ = jax.lax.scan(step, jnp.zeros((x.shape[0], h), x.dtype), jnp.swapaxes(x, 0, 1))
        return (hs @ p["v"] / jnp.sqrt(h))[:, None]
    x = jax.random.normal(k5, (n, l, d), dtype=jnp.float32)
    fn = jax.jit(nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0, implementation=impl))
    return med(lambda: fn(x, None, params).block_until_ready())


if __name__ == "__main__":
    which = sys.argv[1:] or ["E1", "E2", "A1", "R1", "C1", "C2", "T1", "S1"]
    JC = nt.NtkImplementation.JACOBIAN_CONTRACTION
    SD = nt.NtkImplementation.STRUCTURED_DERIVATIVES
    for w in which:
        if w == "E1":
            print("E1_jacobian", empirical(128, 128, JC)); print("E1_structured", empirical(128, 128, SD))
        elif w == "E2":
            print("E2_jacobian", empirical(512, 256, JC)); print("E2_structured", empirical(512, 256, SD))
        elif w == "A1":
            print("A1_analytic", analytic(512))
        elif w == "R1":
            print("R1_predict_t", regression())
        elif w == "C1":
            print("C1_analytic", cntk())
        elif w == "C2":
            print("C2_jacobian", conv_empirical(JC)); print("C2_structured", conv_empirical(SD))
        elif w == "T1":
            print("T1_analytic", attention())
        elif w == "S1":
            print("S1_jacobian", rnn_empirical(JC)); print("S1_structured", rnn_empirical(SD))
        sys.stdout.flush()
