"""Writes attention_finite.txt: neural-tangents' own finite self-attention
networks, evaluated in float64 with fixed weights, and their empirical NTK.

Run with a Python that has neural-tangents and jax:
    python attention_finite.py > attention_finite.txt

Each case is `serial(..., Flatten())` around one GlobalSelfAttention layer
(linear_scaling=True, b_std=None, pos_emb_type='NONE'), on N = 3 sequences
of L = 4 positions of C_IN = 3 channels, 2 heads of 3 key and 2 value
channels. The weights are written in the crate's order and layout:
key[h][k][c], value[h][v][c], out[o][h][v] (neural-tangents stores them as
key[h][c][k], value[h][c][v], W_out[v*HEADS + h][o]: its heads are
concatenated value channel major). The NTK is
`nt.empirical_ntk_fn(apply_fn)` with its default trace_axes=(-1,): the mean
over the outputs.
"""
import jax
jax.config.update('jax_enable_x64', True)
import jax.numpy as jnp
import numpy as np
import neural_tangents as nt
from neural_tangents import stax

N, L, C_IN, C_K, C_V, HEADS = 3, 4, 3, 3, 2, 2
rng = np.random.default_rng(20261203)


def fmt(xs):
    return ' '.join('%.17e' % v for v in np.ravel(xs))


def case(name, mechanism, stds, c_out, residual_layernorm):
    wq, wk, wv, wo = stds
    attn = stax.GlobalSelfAttention(
        n_chan_out=c_out, n_chan_key=C_K, n_chan_val=C_V, n_heads=HEADS,
        linear_scaling=True, W_query_std=wq, W_key_std=wk, W_value_std=wv,
        W_out_std=wo, b_std=None, attention_mechanism=mechanism,
        pos_emb_type='NONE')
    if residual_layernorm:
        body = stax.serial(stax.FanOut(2), stax.parallel(stax.Identity(), attn),
                           stax.FanInSum(), stax.LayerNorm(axis=-1), stax.Flatten())
    else:
        body = stax.serial(attn, stax.Flatten())
    init_fn, apply_fn, _ = body

    key = rng.standard_normal((HEADS, C_K, C_IN))    # crate layout [h][k][c]
    value = rng.standard_normal((HEADS, C_V, C_IN))  # [h][v][c]
    out = rng.standard_normal((c_out, HEADS, C_V))   # [o][h][v]
    attn_params = (None,
                   jnp.asarray(key.transpose(0, 2, 1)),
                   jnp.asarray(value.transpose(0, 2, 1)),
                   jnp.asarray(out.transpose(2, 1, 0).reshape(C_V * HEADS, c_out)),
                   None, None)
    if residual_layernorm:
        params = ((), ((), attn_params), (), (), ())
    else:
        params = (attn_params, ())
    x = rng.standard_normal((N, L, C_IN))
    y = apply_fn(params, jnp.asarray(x))
    ntk = nt.empirical_ntk_fn(apply_fn)(jnp.asarray(x), None, params)

    print('case', name)
    print('mechanism', mechanism.lower())
    print('residual_layernorm', int(residual_layernorm))
    print('stds', fmt(stds))
    print('key', fmt(key))
    print('value', fmt(value))
    print('out', fmt(out))
    print('inputs')
    for xi in x:
        print(fmt(xi))
    print('outputs')
    for yi in np.asarray(y):
        print(fmt(yi))
    print('ntk')
    for row in np.asarray(ntk):
        print(fmt(row))
    print('end')


print('# neural-tangents', nt.__version__, 'jax', jax.__version__,
      '(written by attention_finite.py)')
case('softmax', 'SOFTMAX', (1.3, 0.7, 1.1, 0.9), 2, False)
case('identity', 'IDENTITY', (0.8, 1.4, 1.2, 0.6), 2, False)
case('residual_layernorm', 'SOFTMAX', (1.1, 1.5, 0.9, 1.2), C_IN, True)
