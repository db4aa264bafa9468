"""Cases worked out by hand from the operator's definition (docs/operator.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import OPERATOR, REFERENCE

IMPLEMENTATIONS = pytest.mark.parametrize("splat", [OPERATOR, REFERENCE], ids=["kernel", "reference"])
LAYOUTS = pytest.mark.parametrize("layout", ["NCHW", "NHWC"])


def nchw_to(layout, *arrays):
    return tuple(a if layout == "NCHW" else np.moveaxis(a, 1, -1) for a in arrays)


@IMPLEMENTATIONS
@LAYOUTS
def test_fractional_move_shares_bilinearly(splat, layout):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = 1.0
    flow = np.zeros((1, 2, 4, 4), np.float32)
    flow[0, :, 1, 1] = (0.5, 0.25)
    out = np.asarray(splat(*nchw_to(layout, x, flow), mode="sum", layout=layout))
    out = out[0, 0] if layout == "NCHW" else out[0, ..., 0]
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 2], expected[2, 1], expected[2, 2] = 0.375, 0.375, 0.125, 0.125
    np.testing.assert_array_equal(out, expected)


@IMPLEMENTATIONS
@LAYOUTS
@pytest.mark.parametrize("shift", [(1, 0), (-2, 3), (0, 0), (4, -1)])
def test_integer_moves_are_exact(splat, layout, shift):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 7)).astype(np.float32)
    flow = np.zeros((2, 2, 6, 7), np.float32)
    flow[:, 0], flow[:, 1] = shift
    out = np.asarray(splat(*nchw_to(layout, x, flow), mode="sum", layout=layout))
    dx, dy = shift
    expected = np.zeros_like(x)
    expected[..., max(dy, 0) : 6 + min(dy, 0), max(dx, 0) : 7 + min(dx, 0)] = x[
        ..., max(-dy, 0) : 6 + min(-dy, 0), max(-dx, 0) : 7 + min(-dx, 0)
    ]
    np.testing.assert_array_equal(out, nchw_to(layout, expected)[0])


@IMPLEMENTATIONS
@pytest.mark.parametrize("flow_value", [(5.0, 0.0), (0.0, -3.5), (-6.0, 0.0), (3.0, 100.0), (-1.0, 3.0)])
def test_pixels_moved_outside_vanish(splat, flow_value):
    # 3 x 5 image: each of these flows takes every target point out of [-1, 5) x [-1, 3).
    x = np.ones((1, 2, 3, 5), np.float32)
    flow = np.zeros((1, 2, 3, 5), np.float32)
    flow[0, 0], flow[0, 1] = flow_value
    np.testing.assert_array_equal(np.asarray(splat(x, flow, mode="sum")), 0.0)


@IMPLEMENTATIONS
def test_pixel_landing_on_the_border_keeps_its_inside_share(splat):
    x = np.zeros((1, 1, 1, 3), np.float32)
    x[0, 0, 0, 2] = 1.0
    flow = np.zeros((1, 2, 1, 3), np.float32)
    flow[0, 0, 0, 2] = 0.25  # lands between column 2 and the (missing) column 3
    out = np.asarray(splat(x, flow, mode="sum"))[0, 0, 0]
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.75])


# A 1 x 3 image [1, 2, 4]; pixel 0 moves right onto pixel 1, the others stay.
X = np.array([1.0, 2.0, 4.0]).reshape(1, 1, 1, 3)
FLOW = np.zeros((1, 2, 1, 3))
FLOW[0, 0, 0, 0] = 1.0


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    "mode, metric, expected",
    [
        ("sum", None, [0.0, 3.0, 4.0]),
        ("avg", None, [0.0, 3.0 / (2 + 1e-7), 4.0 / (1 + 1e-7)]),
        # weights 1 and 3 on pixel 1: (1 * 1 + 3 * 2) / (1 + 3)
        ("linear", [1.0, 3.0, 1.0], [0.0, 7.0 / (4 + 1e-7), 4.0 / (1 + 1e-7)]),
        # exp(metric) = 3 and 1 on pixel 1: (3 * 1 + 1 * 2) / (3 + 1)
        ("soft", [np.log(3.0), 0.0, 0.0], [0.0, 5.0 / (4 + 1e-7), 4.0 / (1 + 1e-7)]),
    ],
)
def test_modes_by_hand(splat, mode, metric, expected):
    m = None if metric is None else np.array(metric).reshape(1, 1, 1, 3)
    out = np.asarray(splat(X, FLOW, m, mode))
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-12, atol=0)


@IMPLEMENTATIONS
@pytest.mark.parametrize("normalize", ["addeps", "zeroeps", "clipeps"])
def test_normalisation_variants_where_the_weight_sums_are_ordinary(splat, normalize):
    """Weight sums 0 (nothing lands), 2 and 1: zeroeps and clipeps both divide by the sum itself."""
    out = np.asarray(splat(X, FLOW, None, "avg", normalize=normalize))[0, 0, 0]
    norm = {"addeps": [2 + 1e-7, 1 + 1e-7], "zeroeps": [2.0, 1.0], "clipeps": [2.0, 1.0]}[normalize]
    np.testing.assert_allclose(out, [0.0, 3.0 / norm[0], 4.0 / norm[1]], rtol=1e-12)


# Weight sums where the three normalisations part ways: addeps divides by sum + 1e-7, zeroeps by the
# sum (by 1 only where it is exactly 0), clipeps by max(sum, 1e-7). Linear weights can be negative or
# cancel, and a softmax weight or a bilinear share can be far below 1e-7. On X and FLOW above, pixel
# 1 receives pixels 0 and 1 (values 1 and 2), pixel 2 keeps its own (value 4), pixel 0 is empty.
EPS = 1e-7
TINY_SOFT = np.exp(-30.0)  # ~9.4e-14
NORMALISATION_CASES = {
    # pixel 1: weights 1 and -1 sum to exactly 0 over a numerator of 1 - 2; pixel 2: weight -0.5
    "cancelling-and-negative": (
        "linear",
        [1.0, -1.0, -0.5],
        {
            "addeps": [0.0, -1.0 / EPS, -2.0 / (-0.5 + EPS)],
            "zeroeps": [0.0, -1.0, 4.0],
            "clipeps": [0.0, -1.0 / EPS, -2.0 / EPS],
        },
    ),
    # pixel 1: weights 0.5 and 0.25; pixel 2: weight 1e-9 alone
    "tiny-linear": (
        "linear",
        [0.5, 0.25, 1e-9],
        {
            "addeps": [0.0, 1.0 / (0.75 + EPS), 4e-9 / (1e-9 + EPS)],
            "zeroeps": [0.0, 1.0 / 0.75, 4.0],
            "clipeps": [0.0, 1.0 / 0.75, 4e-9 / EPS],
        },
    ),
    # pixel 1: exp(0) twice; pixel 2: exp(-30) alone
    "tiny-soft": (
        "soft",
        [0.0, 0.0, -30.0],
        {
            "addeps": [0.0, 3.0 / (2 + EPS), 4 * TINY_SOFT / (TINY_SOFT + EPS)],
            "zeroeps": [0.0, 1.5, 4.0],
            "clipeps": [0.0, 1.5, 4 * TINY_SOFT / EPS],
        },
    ),
}
# d out[pixel 2] / d metric[pixel 2], with w the weight of pixel 2 (z or exp(z)) and w' = dw/dz:
# addeps 4 w' (1/(w + eps) - w/(w + eps)^2) = 4 w' eps / (w + eps)^2; zeroeps 0 (out is 4 whatever
# w != 0 is); clipeps, w below eps, 4 w' / eps.
NORMALISATION_METRIC_GRADIENTS = {
    "cancelling-and-negative": {"addeps": 4 * EPS / (-0.5 + EPS) ** 2, "zeroeps": 0.0, "clipeps": 4 / EPS},
    "tiny-linear": {"addeps": 4 * EPS / (1e-9 + EPS) ** 2, "zeroeps": 0.0, "clipeps": 4 / EPS},
    "tiny-soft": {
        "addeps": 4 * TINY_SOFT * EPS / (TINY_SOFT + EPS) ** 2,
        "zeroeps": 0.0,
        "clipeps": 4 * TINY_SOFT / EPS,
    },
}


@IMPLEMENTATIONS
@pytest.mark.parametrize("normalize", ["addeps", "zeroeps", "clipeps"])
@pytest.mark.parametrize("case", NORMALISATION_CASES)
def test_normalisation_variants_where_they_differ(splat, case, normalize):
    mode, metric, expected = NORMALISATION_CASES[case]
    out = np.asarray(splat(X, FLOW, np.array(metric).reshape(1, 1, 1, 3), mode, normalize=normalize))
    np.testing.assert_allclose(out[0, 0, 0], expected[normalize], rtol=1e-12, atol=0)


@IMPLEMENTATIONS
@pytest.mark.parametrize("normalize", ["addeps", "zeroeps", "clipeps"])
@pytest.mark.parametrize("case", NORMALISATION_CASES)
def test_normalisation_variants_gradients_where_they_differ(splat, case, normalize):
    """The derivative of each normalisation is that of its own formula, not of another's; no other
    pixel reaches pixel 2 with a nonzero bilinear share, so only its own metric and value matter."""
    mode, metric, _ = NORMALISATION_CASES[case]

    def pixel_2(x, metric):
        return splat(x, FLOW, metric, mode, normalize=normalize)[0, 0, 0, 2]

    grad_x, grad_metric = jax.grad(pixel_2, argnums=(0, 1))(X, np.array(metric).reshape(1, 1, 1, 3))
    weight = metric[2] if mode == "linear" else np.exp(metric[2])
    norm = {"addeps": weight + EPS, "zeroeps": weight, "clipeps": max(weight, EPS)}[normalize]
    np.testing.assert_allclose(np.asarray(grad_x)[0, 0, 0], [0.0, 0.0, weight / norm], rtol=1e-12, atol=0)
    expected = NORMALISATION_METRIC_GRADIENTS[case][normalize]
    # zeroeps' 0 comes out of autodiff as 4 w'/w - 4 w w'/w^2, a rounding error; the smallest
    # gradient of another variant here is 1.6e-6, so 1e-12 still tells them apart.
    np.testing.assert_allclose(np.asarray(grad_metric)[0, 0, 0], [0.0, 0.0, expected], rtol=1e-9, atol=1e-12)


@IMPLEMENTATIONS
def test_flow_gradient_sign_matches_a_finite_difference(splat):
    """Moving a bright pixel to the right increases the sum over the right half of the image."""
    x = np.zeros((1, 1, 1, 4))
    x[0, 0, 0, 1] = 1.0
    flow = np.zeros((1, 2, 1, 4))
    flow[0, 0, 0, 1] = 0.3

    def right_half(u):
        f = jnp.asarray(flow).at[0, 0, 0, 1].set(u)
        return splat(x, f, mode="sum")[0, 0, 0, 2:].sum()

    analytic = jax.grad(right_half)(0.3)
    step = 1e-6
    numeric = (right_half(0.3 + step) - right_half(0.3 - step)) / (2 * step)
    assert analytic > 0
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
    np.testing.assert_allclose(analytic, 1.0)  # the share of column 2 is exactly u
