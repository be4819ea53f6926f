"""Weighting methods against their papers' definitions, written here
independently of spec/weighting.py, and their state through checkpoints."""

import json

import keras
import numpy as np
import pytest
import torch
from siamese import OUTPUTS, TorchSiamese, keras_siamese, siamese_data

import losses_tf
import losses_torch

LOSSES = {name: "categorical_crossentropy" for name in OUTPUTS}


def torch_batch(seed, n=12):
    x, y = siamese_data(n, seed)
    return [torch.tensor(v) for v in x], {k: torch.tensor(v) for k, v in y.items()}


@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_gradnorm_gradients_equal_the_second_order_textbook_version(alpha):
    """Chen et al. 2018 differentiate L_grad = sum |G_i - target_i| through
    G_i = ||grad_W (w_i L_i)|| (second order, create_graph) with the target
    constant; the model gets grad sum_i w_i L_i with w constant.  Ours uses
    G_i = w_i ||grad_W L_i||; both gradients must be the same."""
    torch.manual_seed(0)
    model = TorchSiamese().double()
    loss = losses_torch.MultiTaskLoss(LOSSES, None, {"name": "gradnorm", "params": {"alpha": alpha}}).double()
    loss.share(model.shared)
    with torch.no_grad():
        loss.weighting_state.copy_(torch.tensor([0.5, 1.75, 0.75], dtype=torch.float64))  # sums to 3 exactly
        loss.weighting_initial.copy_(torch.tensor([2.5, 2.0, 0.9], dtype=torch.float64))
        loss.weighting_step.fill_(7)
    x, y = torch_batch(0)
    total, _ = loss(model(*x), y)
    total.backward()
    ours_w = loss.weighting_state.grad.clone()
    ours_model = [p.grad.clone() for p in model.parameters()]

    model.zero_grad()
    w = torch.tensor([0.5, 1.75, 0.75], dtype=torch.float64, requires_grad=True)
    outputs = model(*x)
    losses = [loss.term_losses[o](outputs[o], y[o]) for o in OUTPUTS]  # the task losses themselves
    layer = list(model.shared.parameters())
    norms = []
    for i, value in enumerate(losses):
        grads = torch.autograd.grad(w[i] * value, layer, retain_graph=True, create_graph=True)
        norms.append(torch.sqrt(sum((g * g).sum() for g in grads)))
    norms = torch.stack(norms)
    ratios = torch.stack([v.detach() for v in losses]) / torch.tensor([2.5, 2.0, 0.9], dtype=torch.float64)
    target = (norms.mean() * (ratios / ratios.mean()) ** alpha).detach()
    weight_loss = (norms - target).abs().sum()
    (textbook_w,) = torch.autograd.grad(weight_loss, w, retain_graph=True)
    (w.detach() * torch.stack(losses)).sum().backward()

    textbook_total = float((w.detach() * torch.stack(losses)).sum().detach())
    np.testing.assert_allclose(float(total.detach()), textbook_total, rtol=1e-12)
    np.testing.assert_allclose(ours_w.numpy(), textbook_w.numpy(), rtol=1e-10)
    for ours, theirs in zip(ours_model, model.parameters(), strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_gradnorm_takes_initial_losses_at_the_first_step_and_renormalises():
    model = TorchSiamese().double()
    loss = losses_torch.MultiTaskLoss(LOSSES, None, "gradnorm", shared=model.shared).double()
    x, y = torch_batch(1)
    _, parts = loss(model(*x), y)
    np.testing.assert_allclose(loss.weighting_initial.numpy(), [float(parts[o]) for o in OUTPUTS], rtol=1e-15)
    assert int(loss.weighting_step) == 1
    with torch.no_grad():
        loss.weighting_state.copy_(torch.tensor([1.0, 2.0, 3.0]))
    loss(model(*x), y)
    np.testing.assert_allclose(loss.weighting_state.detach().numpy(), [0.5, 1.0, 1.5], rtol=1e-15)
    np.testing.assert_allclose(loss.weighting_initial.numpy(), [float(parts[o]) for o in OUTPUTS], rtol=1e-15)


def test_dwa_follows_liu_et_al_from_batch_size_weighted_epoch_means():
    """lambda_k = K exp(r_k / T) / sum_i exp(r_i / T), r_k the ratio of the
    last two epoch means; 1 for the first two epochs."""
    model = TorchSiamese().double()
    loss = losses_torch.MultiTaskLoss(LOSSES, {"bin_out": 0.5}, {"name": "dwa", "params": {"temperature": 3.0}})
    loss = loss.double()
    means, weights_seen = [], []
    for epoch in range(4):
        weights_seen.append(loss.weighting_weights.numpy().copy())
        sums, count = np.zeros(3), 0
        for step, n in enumerate([12, 12, 5]):
            x, y = torch_batch(100 * epoch + step, n)
            with torch.no_grad():
                x = [v * (1 + epoch) for v in x]  # epochs differ
            total, parts = loss(model(*x), y)
            values = np.array([float(parts[o]) * (0.5 if o == "bin_out" else 1.0) for o in OUTPUTS])
            np.testing.assert_allclose(float(total), weights_seen[-1] @ values, rtol=1e-12)
            sums, count = sums + n * values, count + n
        means.append(sums / count)
        loss.end_epoch()
    np.testing.assert_array_equal(weights_seen[0], 1.0)
    np.testing.assert_array_equal(weights_seen[1], 1.0)
    for epoch in (2, 3):
        ratio = means[epoch - 1] / means[epoch - 2]
        expected = 3 * np.exp(ratio / 3.0) / np.exp(ratio / 3.0).sum()
        np.testing.assert_allclose(weights_seen[epoch], expected, rtol=1e-12)
    assert int(loss.weighting_epoch) == 4


def test_rlw_draws_softmax_normal_weights_reproducibly():
    from spec.weighting import resolve

    method = resolve({"name": "rlw", "params": {"seed": 11}})
    draws = np.array([method.coefficients(step, 4, None) for step in range(4000)])
    np.testing.assert_allclose(draws.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(draws > 0)
    np.testing.assert_array_equal(draws[17], resolve({"name": "rlw", "params": {"seed": 11}}).coefficients(17, 4, None))
    assert not np.allclose(draws[17], resolve({"name": "rlw", "params": {"seed": 12}}).coefficients(17, 4, None))
    assert len({tuple(d) for d in draws}) == len(draws)
    # softmax of N(0, I): exchangeable, mean 1/T; the largest weight's mean is
    # E[max softmax] for T=4, about 0.54 (Monte Carlo in the test, not the code)
    np.testing.assert_allclose(draws.mean(axis=0), 0.25, atol=0.01)
    z = np.random.default_rng(0).standard_normal((200000, 4))
    reference = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)).max(axis=1).mean()
    np.testing.assert_allclose(draws.max(axis=1).mean(), reference, atol=0.01)


def test_evaluation_does_not_change_state():
    model = TorchSiamese().double()
    loss = losses_torch.MultiTaskLoss(LOSSES, None, "gradnorm", shared=model.shared).double()
    x, y = torch_batch(2)
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    loss.eval()
    total, parts = loss(model(*x), y)
    np.testing.assert_allclose(float(total), sum(float(p) for p in parts.values()), rtol=1e-12)
    with torch.no_grad():
        loss.train()
        loss(model(*x), y)
    for key, value in loss.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_gradient_methods_need_the_shared_parameters(module):
    if module is losses_torch:
        loss = losses_torch.MultiTaskLoss(LOSSES, None, "mgda")
        x, y = torch_batch(3)
        with pytest.raises(ValueError, match=r"weighting 'mgda' needs the shared parameters: pass shared="):
            loss(TorchSiamese().double()(*x), y)
    else:
        with pytest.raises(ValueError, match=r"weighting 'gradnorm' needs shared= .*layers of the model: \['a', 'b'"):
            losses_tf.KerasStyleModel(keras_siamese(), LOSSES, None, "gradnorm")


STATEFUL = [
    {"name": "dwa", "params": {"temperature": 2.0}},
    {"name": "rlw", "params": {"seed": 4}},
    {"name": "gradnorm", "params": {"alpha": 1.0}},
    {"name": "pcgrad", "params": {"seed": 2}},
    {"name": "uncertainty", "params": {"variant": "log_variance", "init": None}},
]


def keras_data(n=48):
    return siamese_data(n, 9, "float32")


@pytest.mark.parametrize("weighting", STATEFUL, ids=[w["name"] for w in STATEFUL])
def test_keras_checkpoint_round_trip_continues_the_same_run(tmp_path, weighting):
    """model.save after 2 epochs, load_model, 1 more epoch == 3 epochs straight."""
    x, y = keras_data()
    shared = ["shared"] if weighting["name"] in ("gradnorm", "pcgrad") else None

    def build():
        model = losses_tf.KerasStyleModel(keras_siamese(), LOSSES, None, weighting, shared=shared)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
        return model

    straight = build()
    straight.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    resumed = build()
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    resumed.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for name, variable in resumed.weighting_buffers.items():
        np.testing.assert_array_equal(loaded.weighting_buffers[name].numpy(), variable.numpy(), err_msg=name)
    loaded.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(straight.weights, loaded.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7, err_msg=a.path)
    assert json.loads(json.dumps(loaded.get_config()["loss"]))["weighting"]["name"] == weighting["name"]


@pytest.mark.parametrize("weighting", STATEFUL, ids=[w["name"] for w in STATEFUL])
def test_torch_state_dict_round_trip_continues_the_same_run(weighting):
    """state_dict (what Lightning checkpoints hold) after 2 epochs, load into
    fresh objects, 1 more epoch == 3 epochs straight; bit-for-bit."""

    def build():
        torch.manual_seed(0)
        model = TorchSiamese().double()
        loss = losses_torch.MultiTaskLoss(LOSSES, None, weighting, shared=model.shared).double()
        optimizer = torch.optim.SGD([*model.parameters(), *loss.parameters()], lr=0.1, momentum=0.9)
        return model, loss, optimizer

    def run(model, loss, optimizer, epochs):
        for epoch in range(epochs):
            for step in range(3):
                x, y = torch_batch(10 * epoch + step)
                optimizer.zero_grad()
                loss(model(*x), y)[0].backward()
                optimizer.step()
            loss.end_epoch()

    straight = build()
    run(*straight, 3)
    model, loss, optimizer = build()
    run(model, loss, optimizer, 2)
    saved = json.loads(json.dumps(loss.get_config())), {k: v.clone() for k, v in loss.state_dict().items()}
    saved_model, saved_optimizer = model.state_dict(), optimizer.state_dict()
    model, loss, optimizer = build()
    loss = losses_torch.MultiTaskLoss.from_config(saved[0]).double().share(model.shared)
    loss.load_state_dict(saved[1])
    optimizer = torch.optim.SGD([*model.parameters(), *loss.parameters()], lr=0.1, momentum=0.9)
    model.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
    # continuing needs the epoch too: the batches of epoch 2
    for step in range(3):
        x, y = torch_batch(20 + step)
        optimizer.zero_grad()
        loss(model(*x), y)[0].backward()
        optimizer.step()
    loss.end_epoch()
    for (name, a), b in zip(straight[0].state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for (name, a), b in zip(straight[1].state_dict().items(), loss.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_weighting_state_has_its_own_parameter_group_without_weight_decay():
    from losses_torch.lightning import KerasStyleModule

    model = TorchSiamese()
    module = KerasStyleModule(
        model,
        LOSSES,
        weighting={"name": "uncertainty", "params": {"variant": "log_variance"}},
        optimizer=lambda groups: torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.1),
    )
    optimizer = module.configure_optimizers()
    model_group, weighting_group = optimizer.param_groups
    assert model_group["weight_decay"] == 0.1 and weighting_group["weight_decay"] == 0.0
    assert weighting_group["params"] == [module.loss.weighting_state]
    assert {id(p) for p in model_group["params"]} == {id(p) for p in model.parameters()}


def test_manual_optimization_clips_gradients_like_clip_grad_norm():
    """Gradient-based weightings train with manual optimization; the module's
    gradient_clip_val clips the combined gradient exactly as
    torch.nn.utils.clip_grad_norm_ would in a plain loop."""
    from siamese import fit_lightning

    from losses_torch.lightning import KerasStyleModule

    rng = np.random.default_rng(5)
    data = []
    for _ in range(3):
        x = [rng.normal(size=(8, 8)) for _ in range(2)]
        y = {o: np.eye(10 if o != "bin_out" else 2)[rng.integers(0, 10 if o != "bin_out" else 2, 8)] for o in OUTPUTS}
        data.append((x, y))
    weighting = {"name": "cagrad", "params": {"c": 0.5}}

    torch.manual_seed(0)
    reference = TorchSiamese().double()
    lightning_model = TorchSiamese().double()
    lightning_model.load_state_dict(reference.state_dict())
    loss = losses_torch.MultiTaskLoss(LOSSES, None, weighting, shared=reference.shared).double()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    for x, y in data:
        optimizer.zero_grad()
        total, _ = loss(reference(*[torch.tensor(v) for v in x]), {k: torch.tensor(v) for k, v in y.items()})
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.05)
        assert norm > 0.05  # the clip is active
        optimizer.step()

    module = KerasStyleModule(
        lightning_model,
        LOSSES,
        weighting=weighting,
        shared=lightning_model.shared,
        optimizer=lambda groups: torch.optim.SGD(groups, lr=0.5),
        gradient_clip_val=0.05,
    ).double()
    fit_lightning(module, data, len(data))
    for (name, a), b in zip(reference.state_dict().items(), lightning_model.state_dict().values(), strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


def test_gradient_weighting_trains_under_bf16_autocast():
    """Manual optimization with manual_backward keeps Lightning's precision
    plugins working: a bf16-mixed run of MGDA trains with finite values."""
    from siamese import fit_lightning

    from losses_torch.lightning import KerasStyleModule

    rng = np.random.default_rng(6)
    data = []
    for _ in range(4):
        x = [rng.normal(size=(8, 8)).astype("float32") for _ in range(2)]
        y = {o: np.eye(10 if o != "bin_out" else 2, dtype="float32")[rng.integers(0, 2, 8)] for o in OUTPUTS}
        data.append((x, y))
    model = TorchSiamese()
    before = [p.detach().clone() for p in model.parameters()]
    module = KerasStyleModule(model, LOSSES, weighting="mgda", shared=model.shared, gradient_clip_val=1.0)
    trainer = fit_lightning(module, data, len(data), precision="bf16-mixed")
    assert trainer.precision == "bf16-mixed"
    assert np.isfinite(float(trainer.callback_metrics["loss"]))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    "weighting",
    [{"name": "dwa"}, {"name": "gradnorm", "params": {"alpha": 1.0}}, {"name": "rlw"}],
    ids=lambda w: w["name"],
)
def test_lightning_checkpoint_resume_continues_the_same_run(tmp_path, weighting):
    """Trainer.save_checkpoint after 2 epochs, a fresh module resumed with
    trainer.fit(ckpt_path=...) for a 3rd epoch == 3 epochs straight."""
    import pytorch_lightning as pl

    from losses_torch.lightning import KerasStyleModule

    batches = [torch_batch(40 + i) for i in range(3)]
    data = torch.utils.data.DataLoader(batches, batch_size=None)

    def module():
        torch.manual_seed(0)
        model = TorchSiamese().double()
        return KerasStyleModule(
            model,
            LOSSES,
            weighting=weighting,
            shared=model.shared,
            optimizer=lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
        ).double()

    def trainer(epochs):
        return pl.Trainer(
            max_epochs=epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )

    straight = module()
    trainer(3).fit(straight, data)
    first = module()
    fitted = trainer(2)
    fitted.fit(first, data)
    fitted.save_checkpoint(tmp_path / "two.ckpt")
    resumed = module()
    trainer(3).fit(resumed, data, ckpt_path=tmp_path / "two.ckpt")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert any(name.startswith("loss.weighting_") for name in resumed.state_dict())
