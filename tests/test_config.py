"""Experiment configs: typed, frozen, overridable; mistakes named with key path and did-you-mean."""
from __future__ import annotations

import dataclasses
import warnings

import pytest

import kerasdl
import kerasdl.config
from kerasdl.config import (DEVICE_POLICIES, DEVICE_POLICY, HIGHER_IS_BETTER, LOSSES, OPTIMIZERS, RECIPES,
                            Callbacks, CheckpointConfig, Data, Device, EarlyStoppingConfig, Experiment,
                            Finetune, ModelConfig, TensorBoardConfig, Trainer, metric_direction,
                            parse_overrides, parse_value, with_overrides)
from kerasdl.errors import ConfigError


def test_defaults_validate_and_are_frozen():
    experiment = Experiment(name="x")
    assert experiment.trainer.optimizer == "adam"
    with pytest.raises(dataclasses.FrozenInstanceError):
        experiment.trainer.epochs = 3


@pytest.mark.parametrize("make, message", [
    (lambda: Trainer(optimzer="adam"),
     "unknown config key 'trainer.optimzer' (did you mean 'optimizer'?)"),
    (lambda: Experiment(name="x", trainr={}),
     "unknown config key 'trainr' (did you mean 'trainer'?)"),
    (lambda: Experiment(name="x", callbacks={"early_stopping": {"patiense": 3}}),
     "unknown config key 'callbacks.early_stopping.patiense' (did you mean 'patience'?)"),
    (lambda: Trainer(epochs="ten"), "config key 'trainer.epochs' must be int; got 'ten' (str)"),
    (lambda: Trainer(epochs=True), "config key 'trainer.epochs' must be int"),
    (lambda: Data(image_size=(32,)), "config key 'data.image_size' must be"),
    (lambda: ModelConfig(style="funktional"), "(did you mean 'functional'?)"),
    (lambda: Trainer(optimizer="adamm"), "unknown optimizer 'adamm' at 'trainer.optimizer' "
                                         "(did you mean 'adam'?)"),
    (lambda: Trainer(loss="sparse_crossentropy"), "unknown loss 'sparse_crossentropy'"),
    (lambda: Trainer(metrics=("accuracyy",)), "(did you mean 'accuracy'?)"),
    (lambda: Data(validation_fraction=1.0), "'data.validation_fraction' must be in [0, 1)"),
    (lambda: Data(augment=("rotat",)), "(did you mean 'rotate'?)"),
    (lambda: Experiment(name="x", callbacks=Callbacks(monitor="val_acuracy")),
     "config key 'callbacks.monitor' is 'val_acuracy', but training logs only accuracy, loss"),
    (lambda: Experiment(name="x", data=Data(validation_fraction=0.0)),
     "data.validation_fraction is 0, so no validation metrics exist"),
    (lambda: Experiment(name="has space"), "config key 'name' must use letters"),
])
def test_mistakes_are_named(make, message):
    with pytest.raises(ConfigError) as error:
        make()
    assert message in str(error.value)


ISSUE_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
ISSUE_LOSSES = ("mse", "msle", "mae", "binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "hinge", "squared_hinge", "kl_divergence")


@pytest.mark.parametrize("key, name", [*(("optimizer", o) for o in ISSUE_OPTIMIZERS),
                                       *(("loss", loss) for loss in ISSUE_LOSSES)])
def test_every_optimizer_and_loss_the_issue_names_is_known(key, name):
    """Each name is kept as given and is in the table the runner reads; a typo of it is a
    ConfigError that suggests it."""
    table = {"optimizer": OPTIMIZERS, "loss": LOSSES}[key]
    assert getattr(Trainer(**{key: name}), key) == name
    assert name in table
    typo = name + name[-1]                       # "adamm", "msee", ...
    with pytest.raises(ConfigError) as error:
        Trainer(**{key: typo})
    assert (f"unknown {key} '{typo}' at 'trainer.{key}' (did you mean '{name}'?)"
            in str(error.value))


@pytest.mark.parametrize("sections, expected", [
    ({}, "lenet5, functional"),
    ({"model": ModelConfig(name="mlp", style="subclassed")}, "mlp, subclassed"),
    ({"finetune": Finetune(recipe="finetune_all", backbone="keras:MobileNetV2")},
     "finetune_all on keras:MobileNetV2 (ImageNet weights)"),
    ({"finetune": Finetune(recipe="two_phase", backbone="kerasdl:lenet5", weights=None)},
     "two_phase on kerasdl:lenet5 (random weights)"),
    ({"finetune": Finetune(recipe="cut_and_probe", backbone="saved_models/p.keras", cut_at="s4")},
     "cut_and_probe on saved_models/p.keras, cut at s4"),
])
def test_model_description_names_what_trains(sections, expected):
    """A transfer run is described by its recipe and backbone, not by the unused model.name."""
    assert Experiment(name="x", **sections).model_description() == expected


def test_values_are_normalised():
    data = Data(image_size=[32, 32], rescale=1)
    assert data.image_size == (32, 32) and isinstance(data.rescale, float)
    nested = Experiment(name="x", trainer={"epochs": 2})
    assert isinstance(nested.trainer, Trainer) and nested.trainer.epochs == 2


def test_overrides_parse_and_apply():
    experiment = Experiment(name="x")
    changed = with_overrides(experiment, parse_overrides([
        "trainer.epochs=3", "data.batch_size=64", "trainer.learning_rate=1e-2",
        "data.image_size=(32, 32)", "data.name=cifar10", "model.kwargs.dropout=0.5",
        "callbacks.early_stopping.enabled=false", "data.train_limit=None"]))
    assert changed.trainer.epochs == 3 and changed.data.batch_size == 64
    assert changed.trainer.learning_rate == 0.01 and changed.data.image_size == (32, 32)
    assert changed.data.name == "cifar10" and changed.model.kwargs == {"dropout": 0.5}
    assert changed.callbacks.early_stopping.enabled is False and changed.data.train_limit is None
    assert experiment.trainer.epochs == 10          # the original is untouched


def test_none_overrides_an_optional_string_key_with_none():
    """``--set finetune.recipe=None`` (the scratch baseline) was the recipe named 'None'."""
    experiment = Experiment(name="x", finetune={"recipe": "two_phase", "backbone": "b.keras"})
    for text in ("None", "null", "none"):
        changed = with_overrides(experiment, parse_overrides([f"finetune.recipe={text}"]))
        assert changed.finetune.recipe is None
    assert with_overrides(experiment, parse_overrides(["data.name=none"])).data.name == "none"


@pytest.mark.parametrize("item, message", [
    ("trainer.epoch=3", "unknown config key 'trainer.epoch' (did you mean 'epochs'?)"),
    ("trainr.epochs=3", "unknown config key 'trainr' (did you mean 'trainer'?)"),
    ("callbacks.early_stopping.patince=1",
     "unknown config key 'callbacks.early_stopping.patince' (did you mean 'patience'?)"),
    ("trainer.epochs=three", "config key 'trainer.epochs' must be int; got 'three'"),
    ("trainer.epochs.x=3", "config key 'trainer.epochs' is a value, not a section"),
    ("trainer.epochs", "--set expects KEY=VALUE"),
])
def test_override_mistakes_are_named(item, message):
    with pytest.raises(ConfigError) as error:
        with_overrides(Experiment(name="x"), parse_overrides([item]))
    assert message in str(error.value)


@pytest.mark.parametrize("item, name", [
    ("data.name='mnist'", "mnist"), ('data.name="mnist"', "mnist"), ("data.name=mnist", "mnist"),
    ("data.name=it's", "it's"), ("data.name='a' + 'b'", "'a' + 'b'"),
])
def test_a_quoted_string_is_the_string_without_its_quotes(item, name):
    """A shell's --set "data.name='mnist'" sets mnist, as it does for non-string keys (issue
    #14, 6); text that is not one quoted literal is kept as written."""
    assert with_overrides(Experiment(name="x"), parse_overrides([item])).data.name == name


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("(1, 2)") == (1, 2) and parse_value("adam") == "adam"
    assert parse_value("null") is None


def test_monitor_mode_follows_the_metric():
    assert Experiment(name="x").monitor_mode() == "min"
    assert Experiment(name="x", callbacks=Callbacks(monitor="val_accuracy")).monitor_mode() == "max"


def test_keys_that_go_together_may_be_set_in_either_order():
    """A section's cross-field checks run once all overrides are in: ``--set
    finetune.recipe=cut_and_probe --set finetune.cut_at=s4`` works as the reverse order does, and
    a combination that stays wrong is still refused."""
    experiment = Experiment(name="x")
    for items in (["finetune.recipe=cut_and_probe", "finetune.cut_at=s4", "finetune.backbone=b"],
                  ["finetune.cut_at=s4", "finetune.backbone=b", "finetune.recipe=cut_and_probe"]):
        finetune = with_overrides(experiment, parse_overrides(items)).finetune
        assert (finetune.recipe, finetune.cut_at) == ("cut_and_probe", "s4")
    with pytest.raises(ConfigError, match="needs finetune.cut_at"):
        with_overrides(experiment, parse_overrides(["finetune.recipe=cut_and_probe",
                                                    "finetune.backbone=b"]))


RENAMED = {"Model": ModelConfig, "EarlyStopping": EarlyStoppingConfig,
           "TensorBoard": TensorBoardConfig, "Checkpoint": CheckpointConfig}


@pytest.mark.parametrize("module", [kerasdl.config, kerasdl], ids=["kerasdl.config", "kerasdl"])
@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_section_names_still_work_and_warn_with_the_new_name(module, old):
    """``Model``, ``EarlyStopping``, ... shadowed Keras's classes; they are ``ModelConfig``, ...
    now, and the old names give the same class with a DeprecationWarning that names the new one."""
    new = RENAMED[old]
    with pytest.warns(DeprecationWarning, match=f"{module.__name__}.{old} is renamed "
                                                f"{module.__name__}.{new.__name__}"):
        assert getattr(module, old) is new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(module, new.__name__) is new          # the new name: no warning
    with pytest.raises(AttributeError, match="has no attribute 'Modell'"):
        getattr(module, "Modell")


def test_kerasdl_exports_the_config_names_not_keras_ones():
    assert {"ModelConfig", "EarlyStoppingConfig", "TensorBoardConfig", "CheckpointConfig"} <= set(
        kerasdl.__all__)
    assert not {"Model", "EarlyStopping", "TensorBoard", "Checkpoint"} & set(kerasdl.__all__)
    for name in kerasdl.config.__all__:
        assert hasattr(kerasdl.config, name), name


def test_the_config_package_imports_no_tensorflow():
    from conftest import REPO, run_python

    result = run_python("import sys, kerasdl.config\nprint('tensorflow' in sys.modules)", cwd=REPO)
    assert result.stdout.strip() == "False", result.stdout + result.stderr


@pytest.mark.parametrize("name, direction", [
    ("accuracy", "max"), ("val_accuracy", "max"), ("val_auc", "max"), ("loss", "min"),
    ("val_loss", "min"), ("val_mae", "min"), ("root_mean_squared_error", "min")])
def test_metric_direction_is_one_rule_with_or_without_val(name, direction):
    assert metric_direction(name) == direction
    assert all(metric_direction(metric) == "max" for metric in HIGHER_IS_BETTER)


def test_device_policies_are_one_table_read_by_the_checker():
    """Every entry of DEVICE_POLICIES (gpu:N as gpu:0, gpu:12) is a valid device.policy, the
    error lists them all, and the CLI's --device help is the same list."""
    for name in DEVICE_POLICIES:
        for policy in ([name.replace("N", "0"), name.replace("N", "12")] if "N" in name else [name]):
            assert Device(policy=policy).policy == policy
    with pytest.raises(ConfigError) as error:
        Device(policy="gpu:x")
    assert all(name in str(error.value) for name in DEVICE_POLICIES)
    assert not DEVICE_POLICY.match("gpu:N")
    from kerasdl.cli import DEVICE_HELP

    assert all(name in DEVICE_HELP for name in DEVICE_POLICIES)


def test_recipe_properties_come_from_the_recipe_table(monkeypatch):
    """Whether a recipe needs finetune.cut_at is the table's field, not a name comparison."""
    assert [name for name, recipe in RECIPES.items() if recipe.needs_cut_at] == ["cut_and_probe"]
    monkeypatch.setitem(RECIPES, "linear_probe",
                        dataclasses.replace(RECIPES["linear_probe"], needs_cut_at=True))
    with pytest.raises(ConfigError, match="finetune.recipe='linear_probe' needs finetune.cut_at"):
        Finetune(recipe="linear_probe", backbone="b.keras")


def test_one_cycle_schedule_and_a_finite_target_are_accepted():
    assert Trainer(lr_schedule="one_cycle").lr_schedule == "one_cycle"
    assert Callbacks().target is None and Callbacks(target=0.97).target == 0.97
    assert with_overrides(Experiment(name="x"), {"callbacks.target": "0.5"}).callbacks.target == 0.5
    for bad in (float("inf"), float("nan"), "high"):
        with pytest.raises(ConfigError, match="callbacks.target"):
            Callbacks(target=bad)
