"""Typical student mistakes for assignment 05; each must score below full marks with its message.

Each ``code`` replaces the whole solution cell ``cell`` (so it keeps the correct version's checks and makes one
mistake only); ``test_cell`` must then give less than its points and print a ``[FAIL]`` line containing
``message``. The correct cells are read from the solution notebook; ``_wrong`` makes one mistake in a copy of one
(and fails at import if the text to change is not there, so the corpus cannot drift from the solution).

Not here: "forgetting to reset the gradients". The course's layers overwrite ``layer.grads`` in every backward
pass, so there is no gradient buffer to reset; the nearest real mistake, a velocity that does not survive from one
step to the next, is ``fit_batch_velocity_reset_every_step``.
"""
from pathlib import Path

import nbformat

ASSIGNMENT = "05_training"
NOTEBOOK = "training"
_SOURCE = Path(__file__).resolve().parents[2] / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
_CELLS = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(_SOURCE, as_version=4).cells
          if c.metadata.get("nbgrader", {}).get("solution")}


def _wrong(cell, *changes):
    """The solution cell ``cell`` without nbgrader's markers, each (old, new) text replaced once."""
    code = "\n".join(line for line in _CELLS[cell].splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    for old, new in changes:
        assert code.count(old) == 1, f"the corpus no longer matches the solution: {old!r}"
        code = code.replace(old, new)
    return code


def _mistake(id, cell, test_cell, message, *changes):
    return {"id": id, "cell": cell, "code": _wrong(cell, *changes), "test_cell": test_cell, "message": message}


MISTAKES = [
    # -- exercise 1: channel_stats -----------------------------------------------------------------------------------
    _mistake("channel_stats_not_divided_by_255", "channel_stats", "test_channel_stats", "divide by 255",
             ("x = images.astype(np.float64) / 255", "x = images.astype(np.float64)")),
    _mistake("channel_stats_mean_of_per_image_std", "channel_stats", "test_channel_stats",
             "not the mean of per-image stds",
             ("x.std(axis=(0, 2, 3))", "x.std(axis=(2, 3)).mean(axis=0)")),
    _mistake("channel_stats_sample_std", "channel_stats", "test_channel_stats", "the population std",
             ("x.std(axis=(0, 2, 3))", "x.std(axis=(0, 2, 3), ddof=1)")),
    # -- exercise 2: the models --------------------------------------------------------------------------------------
    _mistake("vgg_conv_with_bias_before_batchnorm", "build_models", "test_models", "has no bias: bias=False",
             ("Conv2d(in_ch, width, 3, pad=1, bias=False, rng=rng)", "Conv2d(in_ch, width, 3, pad=1, rng=rng)")),
    _mistake("resnet_blocks_before_their_pools", "build_models", "test_models", "right after",
             ("[MaxPool(2, 2), BasicBlock(w2, w2, 1, rng=rng)]", "[BasicBlock(w2, w2, 1, rng=rng), MaxPool(2, 2)]"),
             ("[MaxPool(2, 2), BasicBlock(w4, w4, 1, rng=rng)]", "[BasicBlock(w4, w4, 1, rng=rng), MaxPool(2, 2)]")),
    _mistake("lenet_classifier_initialised_large", "build_models", "test_initial_loss", "small std (std=0.01)",
             ("Linear(84, 10, std=0.01, rng=rng)", "Linear(84, 10, rng=rng)")),
    # -- exercise 3: softmax_loss ------------------------------------------------------------------------------------
    _mistake("loss_summed_not_averaged", "softmax_loss", "test_softmax_loss", "average over the batch",
             ("loss = -log_probs[np.arange(n), y].mean()", "loss = -log_probs[np.arange(n), y].sum()"),
             ("return float(loss), dscores / n", "return float(loss), dscores")),
    _mistake("softmax_without_max_shift", "softmax_loss", "test_softmax_loss", "Subtract each row's maximum",
             ("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")),
    _mistake("loss_gradient_not_divided_by_n", "softmax_loss", "test_softmax_loss", "divide by N",
             ("return float(loss), dscores / n", "return float(loss), dscores")),
    _mistake("dscores_without_the_one_hot", "softmax_loss", "test_softmax_loss", "subtract 1 at the true class",
             ("    dscores[np.arange(n), y] -= 1\n", "")),
    # -- exercise 4: the gradient check ------------------------------------------------------------------------------
    _mistake("numerical_gradient_one_sided", "gradient_check", "test_gradient_check", "use the centred difference",
             ("x[i] = old - h", "x[i] = old"),
             ("grad[i] = (plus - minus) / (2 * h)", "grad[i] = (plus - minus) / h")),
    _mistake("numerical_gradient_entry_not_restored", "gradient_check", "test_gradient_check",
             "put every entry back",
             ("        x[i] = old\n        grad[i]", "        grad[i]")),
    _mistake("numerical_gradient_ignores_its_step", "gradient_check", "test_gradient_check",
             "use the step h you are given",
             ("    grad = np.zeros(x.shape)\n", "    grad, h = np.zeros(x.shape), 1e-5  # a small step\n")),
    # -- exercise 5: sgd_momentum_step -------------------------------------------------------------------------------
    _mistake("momentum_applied_to_the_weights", "sgd_momentum_step", "test_sgd_momentum_step",
             "momentum multiplies the velocity, not the weights",
             ("return w + v, v", "return momentum * w + v, v")),
    _mistake("weight_decay_with_the_wrong_sign", "sgd_momentum_step", "test_sgd_momentum_step",
             "weight decay ADDS lambda * w",
             ("(dw + weight_decay * w)\n", "(dw - weight_decay * w)\n")),
    _mistake("weight_decay_forgotten", "sgd_momentum_step", "test_sgd_momentum_step", "weight decay is missing",
             ("(dw + weight_decay * w)\n", "dw\n")),
    _mistake("velocity_with_the_wrong_sign", "sgd_momentum_step", "test_sgd_momentum_step",
             "the velocity points the way the weights move",
             ("    v = momentum * v - lr * (dw + weight_decay * w)\n    return w + v, v",
              "    v = momentum * v + lr * (dw + weight_decay * w)\n    return w - v, v")),
    # -- exercise 6: fit_batch ---------------------------------------------------------------------------------------
    _mistake("fit_batch_weight_decay_on_biases", "fit_batch", "test_fit_batch", "for the weights (key 'w') only",
             ('decay = weight_decay if key == "w" else 0.0', "decay = weight_decay")),
    _mistake("fit_batch_velocity_reset_every_step", "fit_batch", "test_fit_batch", "keep each parameter's velocity",
             ("v = velocity.get(name, np.zeros_like(layer.params[key]))", "v = np.zeros_like(layer.params[key])")),
    _mistake("fit_batch_loss_recorded_after_the_update", "fit_batch", "test_fit_batch",
             "record each step's loss before its update",
             ("losses.append(loss)", "losses.append(softmax_loss(model.forward(x, train=True), y)[0])")),
    _mistake("fit_batch_default_without_momentum", "fit_batch", "test_fit_batch", "momentum is 0.9 unless it is given",
             ("momentum=0.9, weight_decay=0.0):", "momentum=0.0, weight_decay=0.0):")),
    # -- exercise 7: best_learning_rate ------------------------------------------------------------------------------
    _mistake("best_lr_argmin_over_nan", "best_learning_rate", "test_lr_sweep", "np.argmin picked a nan",
             ("finite = np.flatnonzero(np.isfinite(losses))", "finite = np.arange(len(losses))")),
    # -- exercise 8: augmentation ------------------------------------------------------------------------------------
    _mistake("augmentation_applied_at_test_time", "augment", "test_augment", "augmentation is for training only",
             ("    if not train:\n        return x\n", "")),
    _mistake("flip_decided_once_for_the_batch", "augment", "test_augment", "decide for each image on its own",
             ("flip = rng.random(len(x)) < 0.5", "flip = np.full(len(x), rng.random() < 0.5)")),
    _mistake("crop_offset_drawn_once_for_the_batch", "augment", "test_augment",
             "draw the offset (dy, dx) for each image",
             ("    for i in range(n):\n        dy, dx = rng.integers(0, 2 * pad + 1, size=2)\n",
              "    dy, dx = rng.integers(0, 2 * pad + 1, size=2)\n    for i in range(n):\n")),
    _mistake("random_crop_default_pad_2", "augment", "test_augment", "pads by 4 unless pad is given",
             ("def random_crop(x, rng, pad=4):", "def random_crop(x, rng, pad=2):")),
    # -- exercise 9: evaluate ----------------------------------------------------------------------------------------
    _mistake("evaluate_in_train_mode", "evaluate", "test_evaluate", "evaluate in test mode",
             ("model.forward(backend.to_device(xb), train=False)", "model.forward(backend.to_device(xb))")),
    _mistake("evaluate_mean_of_batch_means", "evaluate", "test_evaluate", "average the loss over the images",
             ("total += softmax_loss(scores, yb)[0] * len(xb)", "total += softmax_loss(scores, yb)[0]"),
             ("return total / len(x), correct / len(x)", "return total / -(-len(x) // batch_size), correct / len(x)")),
    # -- exercise 10: the analysis -----------------------------------------------------------------------------------
    _mistake("confusion_matrix_transposed", "analysis", "test_analysis", "rows are the TRUE classes",
             ("np.add.at(cm, (y_true, y_pred), 1)", "np.add.at(cm, (y_pred, y_true), 1)")),
    _mistake("confusion_matrix_size_from_the_labels", "analysis", "test_analysis", "take its size from k",
             ("    cm = np.zeros((k, k), dtype=np.int64)\n",
              "    k = int(max(y_true.max(), y_pred.max())) + 1\n    cm = np.zeros((k, k), dtype=np.int64)\n")),
    _mistake("per_class_accuracy_over_columns", "analysis", "test_analysis", "not the column sums",
             ("totals = cm.sum(axis=1)", "totals = cm.sum(axis=0)")),
    _mistake("confident_mistakes_include_right_answers", "analysis", "test_analysis",
             "only wrongly classified images count",
             ("wrong = np.flatnonzero(predicted != np.asarray(y))", "wrong = np.arange(len(predicted))")),
    # -- exercise 12: dropout ----------------------------------------------------------------------------------------
    _mistake("dropout_not_scaled", "dropout", "test_dropout", "scales the kept units by 1 / (1 - p)",
             ("mask = (rng.random(x.shape) >= p) / (1 - p)", "mask = (rng.random(x.shape) >= p) * 1.0")),
    _mistake("dropout_p_is_keep_probability", "dropout", "test_dropout", "p is the probability of DROPPING a unit",
             ("mask = (rng.random(x.shape) >= p) / (1 - p)", "mask = (rng.random(x.shape) < p) / p")),
    _mistake("dropout_scaled_at_test_time", "dropout", "test_dropout", "no scaling by (1 - p)",
             ("return np.array(x, copy=True), None", "return x * (1 - p), None")),
    _mistake("dropout_mask_from_binomial", "dropout", "test_dropout", "does not follow the convention",
             ("mask = (rng.random(x.shape) >= p) / (1 - p)", "mask = rng.binomial(1, 1 - p, size=x.shape) / (1 - p)")),
    _mistake("dropout_backward_without_mask", "dropout", "test_dropout", "multiply dout by the forward pass's mask",
             ("return dout * cache", "return np.array(dout, copy=True)")),
    # -- exercise 13: divide_by_10_schedule --------------------------------------------------------------------------
    _mistake("schedule_ignores_patience", "lr_schedule", "test_lr_schedule", "divide only after `patience`",
             ("if stale == patience:", "if stale >= 1:")),
    _mistake("schedule_compares_with_previous_epoch", "lr_schedule", "test_lr_schedule",
             "compare with the BEST accuracy so far",
             ("        if accuracy > best:\n            best, stale = accuracy, 0\n",
              "        if accuracy > best:\n            stale = 0\n"),
             ("        lrs.append(lr)\n", "        best = accuracy\n        lrs.append(lr)\n")),
    _mistake("schedule_counter_not_reset", "lr_schedule", "test_lr_schedule", "start counting stale epochs again",
             ("if stale == patience:", "if stale >= patience:"), ("lr, stale = lr / 10, 0", "lr = lr / 10")),
    _mistake("schedule_tie_counts_as_better", "lr_schedule", "test_lr_schedule", "an epoch that only equals the best",
             ("if accuracy > best:", "if accuracy >= best:")),
    _mistake("schedule_without_lr0", "lr_schedule", "test_lr_schedule", "return one rate more",
             ("lrs, lr, best, stale = [lr0], lr0, -math.inf, 0", "lrs, lr, best, stale = [], lr0, -math.inf, 0")),
]
