"""Gramian-based multi-task methods (spec.gramian), checked against
independent references: closed forms, SciPy's SLSQP on the simplex,
optimality certificates, and PCGrad's surgery done on the gradient vectors
themselves.  Gramians are built from explicit random gradients J (T x P) as
G = J J^T, so every property can also be checked in gradient space."""

import numpy as np
import pytest
from scipy.optimize import minimize

from spec import gramian

P = 20


def gradients(seed, num_tasks, dim=P):
    return np.random.default_rng(seed).standard_normal((num_tasks, dim))


def slsqp_on_simplex(objective, gradient, num_tasks, starts):
    """Best SLSQP minimum over ``starts`` on the probability simplex."""
    best = np.inf
    for start in starts:
        result = minimize(
            objective,
            start,
            jac=gradient,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * num_tasks,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        w = np.clip(result.x, 0.0, None)
        best = min(best, objective(w / w.sum()))
    return best


def simplex_starts(seed, num_tasks, count=4):
    rng = np.random.default_rng(seed + 1000)
    return [np.full(num_tasks, 1.0 / num_tasks), *rng.dirichlet(np.ones(num_tasks), size=count - 1)]


def assert_on_simplex(w):
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)


# -- MGDA ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["random", "conflict", "short_second", "short_first"])
@pytest.mark.parametrize("seed", range(3))
def test_mgda_two_tasks_matches_closed_form(case, seed):
    g1, g2 = gradients(seed, 2)
    if case == "conflict":
        g2 = -(2.0 + seed) * g1 + 0.1 * g2
    elif case == "short_second":  # the hull's closest point is g2 itself: w1 clipped to 0
        g2 = 0.3 * g1 + 0.05 * g2
    elif case == "short_first":  # ... or g1: w1 clipped to 1
        g1 = 0.3 * g2 + 0.05 * g1
    J = np.stack([g1, g2])
    expected = np.clip((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2)), 0.0, 1.0)
    w = gramian.mgda_weights(J @ J.T)
    np.testing.assert_allclose(w, [expected, 1.0 - expected], rtol=0, atol=1e-10)


@pytest.mark.parametrize("num_tasks", [3, 4, 5, 6])
@pytest.mark.parametrize("dim", [P, 3])  # dim < T: singular Gramians and hulls that may contain 0
@pytest.mark.parametrize("seed", range(3))
def test_mgda_is_the_min_norm_point(num_tasks, dim, seed):
    J = gradients(seed, num_tasks, dim)
    G = J @ J.T
    w = gramian.mgda_weights(G)
    assert_on_simplex(w)
    ours = np.sum((J.T @ w) ** 2)
    scipy_best = slsqp_on_simplex(lambda v: v @ G @ v, lambda v: 2 * G @ v, num_tasks, simplex_starts(seed, num_tasks))
    assert ours <= scipy_best + 1e-10


@pytest.mark.parametrize("num_tasks", [2, 3, 5, 8])
@pytest.mark.parametrize("dim", [P, 4])
@pytest.mark.parametrize("seed", range(3))
def test_mgda_satisfies_kkt_in_gradient_space(num_tasks, dim, seed):
    # d = sum_i w_i g_i is the min-norm point iff <g_j, d> >= ||d||^2 for all j,
    # with equality on the support of w
    J = gradients(seed, num_tasks, dim)
    w = gramian.mgda_weights(J @ J.T)
    assert_on_simplex(w)
    d = J.T @ w
    dots = J @ d
    assert np.all(dots >= d @ d - 1e-9)
    np.testing.assert_allclose(dots[w > 1e-9], d @ d, rtol=0, atol=1e-9)


def test_mgda_opposite_gradients_give_zero_with_equal_weights():
    g = gradients(0, 1)[0]
    J = np.stack([g, -g])
    w = gramian.mgda_weights(J @ J.T)
    np.testing.assert_allclose(w, [0.5, 0.5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(J.T @ w, 0.0, atol=1e-12)


@pytest.mark.parametrize("zero_task", [0, 2, 3])
def test_mgda_puts_all_weight_on_a_zero_gradient(zero_task):
    J = gradients(5, 4)
    J[zero_task] = 0.0
    w = gramian.mgda_weights(J @ J.T)
    # exact up to the documented ridge (1e-12 of max|G|)
    np.testing.assert_allclose(w, np.eye(4)[zero_task], atol=1e-10)
    np.testing.assert_allclose(J.T @ w, 0.0, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_mgda_duplicated_gradient_gives_the_same_direction(seed):
    J = gradients(seed, 3, 4 if seed % 2 else P)
    duplicated = np.vstack([J, J[1]])  # singular Gramian
    w = gramian.mgda_weights(duplicated @ duplicated.T)
    assert_on_simplex(w)
    reference = gramian.mgda_weights(J @ J.T)
    np.testing.assert_allclose(duplicated.T @ w, J.T @ reference, atol=1e-9)
    # the fixed tie rule prefers the larger support: the twins share their weight
    assert w[1] == pytest.approx(w[3], abs=1e-4)


def test_mgda_all_zero_gradients():
    np.testing.assert_array_equal(gramian.mgda_weights(np.zeros((3, 3))), np.full(3, 1 / 3))
    np.testing.assert_array_equal(gramian.mgda_weights(np.zeros((3, 3)), normalization="l2"), np.zeros(3))


def test_mgda_is_invariant_to_the_scale_of_the_gradients():
    J = gradients(7, 5, 4)
    w = gramian.mgda_weights(J @ J.T)
    for scale in (1e-6, 1e5):
        np.testing.assert_allclose(gramian.mgda_weights((scale * J) @ (scale * J).T), w, atol=1e-9)


@pytest.mark.parametrize("num_tasks", [1, 2, 4, 6])
@pytest.mark.parametrize("seed", range(3))
def test_mgda_l2_equals_solving_on_normalised_gradients(num_tasks, seed):
    J = gradients(seed, num_tasks) * np.geomspace(0.01, 50.0, num_tasks)[:, None]
    norms = np.linalg.norm(J, axis=1)
    unit = J / norms[:, None]
    expected = gramian.mgda_weights(unit @ unit.T) / norms
    c = gramian.mgda_weights(J @ J.T, normalization="l2")
    np.testing.assert_allclose(c, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(J.T @ c, unit.T @ gramian.mgda_weights(unit @ unit.T), atol=1e-9)


def test_mgda_l2_leaves_zero_gradients_out():
    J = gradients(2, 4)
    J[1] = 0.0
    c = gramian.mgda_weights(J @ J.T, normalization="l2")
    kept = np.delete(J, 1, axis=0)
    expected = gramian.mgda_weights(kept @ kept.T, normalization="l2")
    np.testing.assert_allclose(c, np.insert(expected, 1, 0.0), atol=1e-12)


def test_single_task():
    G = np.array([[4.0]])
    np.testing.assert_array_equal(gramian.mgda_weights(G), [1.0])
    np.testing.assert_allclose(gramian.mgda_weights(G, normalization="l2"), [0.5])
    np.testing.assert_array_equal(gramian.pcgrad_weights(G, [[]]), [1.0])
    # CAGrad: w = 1, ||g0|| = ||g_w|| = 2
    lam = 0.5 * 2.0 / (2.0 + 1e-8)
    np.testing.assert_allclose(gramian.cagrad_weights(G, c=0.5, rescale=0), [1.0 + lam], rtol=1e-12)
    np.testing.assert_allclose(gramian.cagrad_weights(G, c=0.5, rescale=1), [(1.0 + lam) / 1.25], rtol=1e-12)


# -- PCGrad -------------------------------------------------------------------


def pcgrad_in_gradient_space(J, orders):
    projected = []
    for i, order in enumerate(orders):
        g = J[i].copy()
        for j in order:
            dot = g @ J[j]
            if dot < 0 and J[j] @ J[j] > 0:
                g = g - dot / (J[j] @ J[j]) * J[j]
        projected.append(g)
    return np.sum(projected, axis=0)


@pytest.mark.parametrize("num_tasks", [2, 3, 4, 5])
def test_pcgrad_matches_surgery_on_the_gradients(num_tasks):
    conflicts = 0
    for seed in range(6):
        J = gradients(seed, num_tasks, 6)
        conflicts += np.sum(J @ J.T < 0)
        orders = gramian.pcgrad_orders(num_tasks, np.random.default_rng([seed, 3]))
        c = gramian.pcgrad_weights(J @ J.T, orders)
        np.testing.assert_allclose(J.T @ c, pcgrad_in_gradient_space(J, orders), rtol=0, atol=1e-12)
    assert conflicts > 0  # the surgery was exercised


def test_pcgrad_skips_a_zero_gradient():
    J = gradients(4, 4, 5)
    J[2] = 0.0
    orders = gramian.pcgrad_orders(4, np.random.default_rng([1, 0]))
    c = gramian.pcgrad_weights(J @ J.T, orders)
    assert np.all(np.isfinite(c))
    np.testing.assert_allclose(J.T @ c, pcgrad_in_gradient_space(J, orders), rtol=0, atol=1e-12)


def test_pcgrad_without_conflict_is_the_plain_sum():
    J = np.abs(gradients(3, 4))  # all pairwise inner products positive
    orders = gramian.pcgrad_orders(4, np.random.default_rng([0, 0]))
    np.testing.assert_array_equal(gramian.pcgrad_weights(J @ J.T, orders), np.ones(4))


@pytest.mark.parametrize("factor", [1.0, 2.5])
def test_pcgrad_opposite_gradients_cancel(factor):
    g = gradients(1, 1)[0]
    J = np.stack([g, -factor * g])
    c = gramian.pcgrad_weights(J @ J.T, [[1], [0]])
    # each is projected onto the normal plane of the other: both vanish
    np.testing.assert_allclose(J.T @ c, 0.0, atol=1e-12)
    np.testing.assert_allclose(c, [1.0 + factor, 1.0 + 1.0 / factor], rtol=1e-12)


def test_pcgrad_orders_are_seeded_permutations_of_the_other_tasks():
    orders = gramian.pcgrad_orders(5, np.random.default_rng([7, 11]))
    assert orders == gramian.pcgrad_orders(5, np.random.default_rng([7, 11]))
    for i, order in enumerate(orders):
        assert sorted(order) == [j for j in range(5) if j != i]
    assert orders != gramian.pcgrad_orders(5, np.random.default_rng([8, 11]))
    assert orders != gramian.pcgrad_orders(5, np.random.default_rng([7, 12]))
    draws = {str(gramian.pcgrad_orders(3, np.random.default_rng([seed, 0]))) for seed in range(20)}
    assert len(draws) > 1
    assert gramian.pcgrad_orders(1, np.random.default_rng(0)) == [[]]


# -- CAGrad -------------------------------------------------------------------


def cagrad_objective(G, c):
    num_tasks = len(G)
    phi = c * np.sqrt(G.mean())
    linear = G.mean(axis=1)

    def objective(w):
        return w @ linear + phi * np.sqrt(w @ G @ w + 1e-8)

    def gradient(w):
        return linear + phi * (G @ w) / np.sqrt(w @ G @ w + 1e-8)

    return objective, gradient, phi, num_tasks


def inner_weights(coefficients, num_tasks):
    """w from c_i = 1/T + lambda w_i (rescale 0), using sum_i w_i = 1."""
    excess = coefficients - 1.0 / num_tasks
    return excess / excess.sum(), excess.sum()


@pytest.mark.parametrize("num_tasks", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("c", [0.5, 2.0])
@pytest.mark.parametrize("seed", range(3))
def test_cagrad_solves_its_inner_problem(num_tasks, c, seed):
    J = gradients(seed, num_tasks)
    G = J @ J.T
    coefficients = gramian.cagrad_weights(G, c=c, rescale=0)
    w, lam = inner_weights(coefficients, num_tasks)
    assert np.all(w >= -1e-12)
    objective, gradient, phi, _ = cagrad_objective(G, c)
    ours = objective(w)
    scipy_best = slsqp_on_simplex(objective, gradient, num_tasks, simplex_starts(seed, num_tasks))
    assert ours <= scipy_best + 1e-9 * abs(scipy_best)
    # Frank-Wolfe gap: an upper bound on ours - min, independent of SciPy
    grad = gradient(w)
    assert grad @ w - grad.min() <= 1e-9 * abs(ours)
    assert lam == pytest.approx(phi / (np.linalg.norm(J.T @ w) + 1e-8), rel=1e-9)


@pytest.mark.parametrize("num_tasks", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(4))
def test_cagrad_improves_the_worst_task_over_the_mean_gradient(num_tasks, seed):
    J = gradients(seed, num_tasks, 3)
    if seed % 2:
        J[1] = -2.0 * J[0] + 0.3 * J[1]
    elif J[0] @ J[1] > 0:
        J[1] = -J[1]
    G = J @ J.T
    assert G.min() < 0  # a conflict to avert
    c = 0.5
    d = J.T @ gramian.cagrad_weights(G, c=c, rescale=0)
    g0 = J.mean(axis=0)
    assert np.min(J @ d) >= np.min(J @ g0) - 1e-9
    assert np.linalg.norm(d - g0) <= c * np.linalg.norm(g0) * (1 + 1e-9)


@pytest.mark.parametrize("rescale", [0, 1, 2])
def test_cagrad_with_zero_radius_is_the_mean(rescale):
    J = gradients(9, 4)
    np.testing.assert_array_equal(gramian.cagrad_weights(J @ J.T, c=0.0, rescale=rescale), np.full(4, 0.25))


@pytest.mark.parametrize("c", [0.3, 1.0, 4.0])
def test_cagrad_rescale_divides_by_the_stated_factors(c):
    J = gradients(10, 5)
    G = J @ J.T
    plain = gramian.cagrad_weights(G, c=c, rescale=0)
    np.testing.assert_allclose(gramian.cagrad_weights(G, c=c, rescale=1) * (1 + c**2), plain, rtol=1e-12)
    np.testing.assert_allclose(gramian.cagrad_weights(G, c=c, rescale=2) * (1 + c), plain, rtol=1e-12)
    assert not np.allclose(plain, 1 / 5)  # the radius did move the direction


def test_cagrad_duplicated_gradient():
    J = gradients(11, 3)
    duplicated = np.vstack([J, J[0]])
    coefficients = gramian.cagrad_weights(duplicated @ duplicated.T, rescale=0)
    w, _ = inner_weights(coefficients, 4)
    objective, gradient, _, _ = cagrad_objective(duplicated @ duplicated.T, 0.5)
    best = slsqp_on_simplex(objective, gradient, 4, simplex_starts(11, 4))
    assert objective(w) <= best + 1e-9 * abs(best)


# -- bad input ----------------------------------------------------------------

FUNCTIONS = {
    "mgda": gramian.mgda_weights,
    "pcgrad": lambda G: gramian.pcgrad_weights(G, [[j for j in range(len(G)) if j != i] for i in range(len(G))]),
    "cagrad": gramian.cagrad_weights,
}


@pytest.mark.parametrize("method", FUNCTIONS)
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones((2, 3)), r"gramian has shape \(2, 3\); expected a square"),
        (np.ones(3), r"gramian has shape \(3,\); expected a square"),
        (np.ones((1, 2, 2)), r"gramian has shape \(1, 2, 2\)"),
        (np.zeros((0, 0)), r"gramian has shape \(0, 0\).*T >= 1"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), r"gramian .* NaN or inf"),
        (np.array([[1.0, np.inf], [np.inf, 1.0]]), r"gramian .* NaN or inf"),
        (np.array([[1.0, 0.5], [0.2, 1.0]]), r"gramian .* not symmetric"),
        (np.array([[-1.0, 0.0], [0.0, 1.0]]), r"gramian has negative diagonal"),
        (np.array([["a", "b"], ["c", "d"]]), r"gramian has dtype"),
    ],
)
def test_bad_gramian(method, bad, match):
    with pytest.raises(ValueError, match=match):
        FUNCTIONS[method](bad)


def test_symmetry_tolerance_is_relative():
    G = np.array([[1e6, 3e5], [3e5 + 1e-3, 1e6]])  # 1e-9 relative: rounding, accepted
    gramian.mgda_weights(G)
    with pytest.raises(ValueError, match="not symmetric"):
        gramian.mgda_weights(G * 1e-6 + np.array([[0, 0], [1e-3, 0]]))


@pytest.mark.parametrize("function", [gramian.mgda_weights, gramian.cagrad_weights])
def test_too_many_tasks_for_enumeration(function):
    with pytest.raises(ValueError, match=r"T = 13 tasks, expected T <= 12"):
        function(np.eye(13))


@pytest.mark.parametrize("c", [-0.1, float("nan"), float("inf"), "0.5", True])
def test_cagrad_rejects_bad_c(c):
    with pytest.raises(ValueError, match=rf"c must be a finite float >= 0 .*got {c!r}"):
        gramian.cagrad_weights(np.eye(2), c=c)


@pytest.mark.parametrize("rescale", [3, -1, 0.5, None, True])
def test_cagrad_rejects_bad_rescale(rescale):
    with pytest.raises(ValueError, match=rf"rescale must be one of \(0, 1, 2\).*got {rescale!r}"):
        gramian.cagrad_weights(np.eye(2), rescale=rescale)


@pytest.mark.parametrize("normalization", ["L2", "loss", None])
def test_mgda_rejects_unknown_normalization(normalization):
    with pytest.raises(ValueError, match=rf"normalization must be one of \('none', 'l2'\), got {normalization!r}"):
        gramian.mgda_weights(np.eye(2), normalization=normalization)


@pytest.mark.parametrize(
    ("orders", "match"),
    [
        ([[1, 2], [0, 2]], r"orders has 2 entries; expected a list of T = 3"),
        ([[1, 2], [0, 2], [0, 0]], r"orders\[2\] = \[0, 0\] is not a permutation of the other tasks"),
        ([[1, 2], [0, 1], [0, 1]], r"orders\[1\] = \[0, 1\] is not a permutation"),
        ([[1], [0, 2], [0, 1]], r"orders\[0\] = \[1\] is not a permutation"),
        ([[1, 2.0], [0, 2], [0, 1]], r"orders\[0\] = \[1, 2.0\] holds non-integers"),
        ("abc", r"orders is a str"),
        (None, r"orders is a NoneType"),
    ],
)
def test_pcgrad_rejects_bad_orders(orders, match):
    with pytest.raises(ValueError, match=match):
        gramian.pcgrad_weights(np.eye(3), orders)


@pytest.mark.parametrize("num_tasks", [0, -2, 2.0, True])
def test_pcgrad_orders_rejects_bad_task_count(num_tasks):
    with pytest.raises(ValueError, match=rf"num_tasks must be an int >= 1, got {num_tasks!r}"):
        gramian.pcgrad_orders(num_tasks, np.random.default_rng(0))


def test_results_are_float64_vectors_and_inputs_untouched():
    J = gradients(12, 3).astype(np.float32)
    G = J @ J.T
    before = G.copy()
    orders = gramian.pcgrad_orders(3, np.random.default_rng(0))
    for result in (gramian.mgda_weights(G), gramian.pcgrad_weights(G, orders), gramian.cagrad_weights(G)):
        assert result.dtype == np.float64 and result.shape == (3,)
    np.testing.assert_array_equal(G, before)
