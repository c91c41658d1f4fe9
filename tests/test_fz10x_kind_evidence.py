"""FZ102/FZ106 where the object's kind rests on weak evidence: a plain class of the file with its own
eval()/state_dict() (not a Module however it is used), a class that keeps `requires_grad` as its own
setting (also in another project file), the message and fix where the kind comes only from use, a
part of a use-proven Module named like a model part (`self._model.backbone`), loops that restore every
module's flag through enumerate()/list(), Keras models, and classes that override train() with
another meaning. Each case also runs the code on real torch objects to show what the checker claims."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from torch import nn

from freezelint.check.engine import check_text

from conftest import write


def run(code: str, codes=("FZ102",), fix: str | None = None):
    return check_text(textwrap.dedent(code).lstrip(), "x.py", frozenset(codes), fix=fix)


def messages(code: str, codes=("FZ102",)) -> list[str]:
    return [d.message for d in run(code, codes).diagnostics]


PLAIN_SCORER = """
import torch

class Scorer:
    def __init__(self):
        self.requires_grad = True

    def eval(self):
        return self

    def __call__(self, x):
        with torch.set_grad_enabled(self.requires_grad):
            return x.sum()

scorer = Scorer()
scorer.eval()
scorer.requires_grad = False
"""


def test_plain_local_class_with_its_own_eval_is_no_module():
    assert messages(PLAIN_SCORER) == []
    # the fix FZ102 used to apply breaks this code: a plain class has no requires_grad_()
    space: dict = {}
    exec(compile(textwrap.dedent(PLAIN_SCORER), "scorer_fz10x.py", "exec"), space)
    with pytest.raises(AttributeError):
        space["scorer"].requires_grad_(False)
    assert space["scorer"](torch.ones(2, requires_grad=True)).requires_grad is False  # the setting works


def test_plain_local_class_with_state_dict_pair_is_no_module():
    code = """
    class Table:
        def __init__(self):
            self.rows = {}
            self.requires_grad = False

        def state_dict(self):
            return dict(self.rows)

        def load_state_dict(self, state):
            self.rows.update(state)

    table = Table()
    table.load_state_dict(table.state_dict())
    table.requires_grad = True
    """
    assert messages(code) == []


def test_a_local_class_with_an_imported_base_may_be_a_module():
    """`class Head(Base)` with Base imported: its bases are not known, use evidence still counts."""
    code = """
    from mylib import Base

    class Head(Base):
        pass

    head = Head()
    head.eval()
    head.requires_grad = False
    """
    assert len(messages(code)) == 1


def test_plain_callable_class_attribute_is_no_module():
    code = """
    import torch

    class HardBiasMitigator:
        def __init__(self, requires_grad=False):
            self.requires_grad = requires_grad

        def __call__(self, x):
            with torch.set_grad_enabled(self.requires_grad):
                return x * 2

    class Wrapper:
        def __init__(self, requires_grad=True):
            self.mitigator = HardBiasMitigator(requires_grad=requires_grad)

        def __call__(self, module, module_in, module_out):
            return self.mitigator(module_out)

        def train(self, mode=True):
            self.mitigator.requires_grad = mode
    """
    assert messages(code) == []


def test_class_of_another_project_file_keeping_requires_grad(cli, tmp_path):
    """allennlp's bias mitigator wrappers: `self.mitigator = HardBiasMitigator(...)`, called like a
    layer, HardBiasMitigator a plain class of another file that reads `self.requires_grad` back."""
    write(tmp_path / "fz10x_pkg" / "__init__.py", "")
    write(tmp_path / "fz10x_pkg" / "mitigators.py", """
        import torch

        class BiasMitigator:
            def __init__(self, requires_grad=False):
                self.requires_grad = requires_grad

        class HardBiasMitigator(BiasMitigator):
            def __call__(self, x):
                with torch.set_grad_enabled(self.requires_grad):
                    return x * 2
        """)
    write(tmp_path / "fz10x_pkg" / "wrappers.py", """
        from fz10x_pkg.mitigators import HardBiasMitigator

        class Wrapper:
            def __init__(self, requires_grad=True):
                self.mitigator = HardBiasMitigator(requires_grad=requires_grad)

            def __call__(self, module, module_in, module_out):
                return self.mitigator(module_out)

            def train(self, mode=True):
                self.mitigator.requires_grad = mode
        """)
    out = json.loads(cli(tmp_path, "check", "--no-cache", "--select", "FZ102", "--format", "json", ".").out)
    assert out == []


def test_use_evidence_is_named_and_the_fix_is_unsafe():
    code = """
    def freeze_backbone(backbone):
        backbone.eval()
        backbone.requires_grad = False
    """
    (msg,) = messages(code)
    assert msg.startswith("`backbone` is used as an nn.Module (`backbone.eval()` at line 2): ")
    assert run(code, fix="safe").new_text is None
    assert "backbone.requires_grad_(False)" in run(code, fix="unsafe").new_text


def test_state_dict_pair_evidence_names_both_calls():
    code = """
    def reload(m, sd):
        m.load_state_dict(sd)
        m.requires_grad = False
        return m.state_dict()
    """
    (msg,) = messages(code)
    assert "(`m.load_state_dict(sd)` at line 2 and `m.state_dict()` at line 4)" in msg


def test_a_constructed_module_is_stated_as_one_with_a_safe_fix():
    code = """
    import torch.nn as nn
    layer = nn.Linear(2, 2)
    layer.eval()
    layer.requires_grad = False
    """
    (msg,) = messages(code)
    assert msg.startswith("`layer` is an nn.Module: ")
    assert "layer.requires_grad_(False)" in run(code, fix="safe").new_text


DELTA = """
class ChannelWeightCalculator:
    def __init__(self, model, data_loader):
        self._model = model
        self.data_loader = data_loader

    def train_classifier(self, optimizer, criterion):
        self._model.train()
        self._model.backbone.requires_grad = False
        for inputs, labels in self.data_loader:
            outputs = self._model(inputs)
            criterion(outputs, labels).backward()
            optimizer.step()
"""


def test_named_part_of_a_trained_module_is_reported():
    (msg,) = messages(DELTA)
    assert msg.startswith("`self._model.backbone` is taken for a submodule, as `backbone` names a part of a model "
                          "and `self._model` is used as an nn.Module (`self._model.train()` at line 7); ")
    assert run(DELTA, fix="safe").new_text is None
    assert "self._model.backbone.requires_grad_(False)" in run(DELTA, fix="unsafe").new_text

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(4, 4)
            self.head = nn.Linear(4, 2)

    model = Classifier()
    model.train()
    model.backbone.requires_grad = False  # what the code does: freezes nothing
    assert all(p.requires_grad for p in model.backbone.parameters())
    model.backbone.requires_grad_(False)  # the fix
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_named_part_needs_a_module_root_and_an_unknown_part():
    code = """
    import torch.nn as nn

    def infer(model, x):
        model.encoder.requires_grad = False  # only called: any callable is
        return model(x)

    def tune(model):
        model.train()
        model.pos_embed.requires_grad = False  # not a part's name

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(2, 2)

    net = Net()
    net.eval()
    net.decoder.requires_grad = False  # Net's parts are known: no decoder among them
    """
    assert messages(code) == []


RESTORE = """
from contextlib import contextmanager

@contextmanager
def train_mode(model, mode=True):
    modes = [module.training for module in model.modules()]
    try:
        yield model.train(mode)
    finally:
        for i, module in enumerate(model.modules()):
            module.training = modes[i]

def set_all(model, flag):
    for m in list(model.modules()):
        m.training = flag
"""


def test_restoring_every_module_through_enumerate_or_list_is_no_finding():
    assert messages(RESTORE, ("FZ106",)) == []
    space: dict = {}
    exec(compile(textwrap.dedent(RESTORE), "restore_fz10x.py", "exec"), space)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.BatchNorm1d(2), nn.Dropout()))
    model.eval()
    model[1].train()
    before = [m.training for m in model.modules()]
    with space["train_mode"](model, True):
        assert all(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == before  # every flag restored as it was
    space["set_all"](model, False)
    assert not any(m.training for m in model.modules())


def test_an_enumerate_index_or_picked_modules_still_report():
    code = """
    import torch.nn as nn

    def freeze(model):
        for i, m in enumerate(model.modules()):
            if isinstance(m, nn.Sequential):
                m.training = False
    """
    assert len(messages(code, ("FZ106",))) == 1


def test_keras_only_file_is_silent_and_a_torch_file_is_not():
    keras = """
    import tensorflow as tf

    serve_model = tf.keras.Sequential([tf.keras.layers.Dense(4)])
    serve_model.training = False
    _ = serve_model(tf.zeros([1, 4]))
    """
    assert messages(keras, ("FZ106",)) == []
    both = "import torch\n" + textwrap.dedent(keras)
    assert len(messages(both, ("FZ106",))) == 1


@pytest.mark.parametrize("helper", ["torchdata", "torchmetrics", "torch_xla", "torchaudio"])
def test_a_keras_file_that_imports_a_torch_helper_package_is_still_keras(helper):
    """A data loader or a metric from the torch ecosystem does not make the Keras model a Module:
    `serve_model.eval()` would raise on it."""
    keras = f"""
    import {helper}
    import tensorflow as tf

    serve_model = tf.keras.Sequential([tf.keras.layers.Dense(4)])
    serve_model.training = False
    _ = serve_model(tf.zeros([1, 4]))
    """
    assert messages(keras, ("FZ106",)) == []


ULTRALYTICS = """
from ultralytics import YOLO

model = YOLO("yolov8n.pt")
model.training = False
results = model("img.jpg")
model.training = True
"""


def test_ultralytics_model_gets_eval_and_never_a_safe_fix():
    first, second = messages(ULTRALYTICS, ("FZ106",))
    assert first.endswith("call `model.eval()` (YOLO's `train()` starts a training run, not a mode switch)")
    assert second.endswith("call `torch.nn.Module.train(model, True)` (YOLO's `train()` starts a training run, "
                           "not a mode switch)")
    assert run(ULTRALYTICS, ("FZ106",), fix="safe").new_text is None
    fixed = run(ULTRALYTICS, ("FZ106",), fix="unsafe").new_text
    assert "model.eval()\n" in fixed and "model.training = True" in fixed and ".train(" not in fixed


AGENT = """
import torch.nn as nn

class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.policy = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        self.episodes = 0

    def train(self, env, steps=10):
        self.episodes += steps

agent = Agent()
agent.training = False
"""


def test_local_train_override_gets_the_module_method_and_no_fix():
    (msg,) = messages(AGENT, ("FZ106",))
    assert msg.endswith("call `torch.nn.Module.train(agent, False)` (`Agent.train(self, env, steps=10)` is not "
                        "nn.Module's `train(mode)`)")
    assert run(AGENT, ("FZ106",), fix="unsafe").new_text is None
    space: dict = {}
    exec(compile(textwrap.dedent(AGENT), "agent_fz10x.py", "exec"), space)
    agent = space["agent"]
    agent.train(False)  # the old suggestion runs the override: no mode changes
    assert agent.episodes == 10 and agent.policy[1].training
    agent.eval()  # nn.Module.eval() calls the override too, with env=False
    assert agent.episodes == 20 and agent.policy[1].training
    torch.nn.Module.train(agent, False)  # the suggestion: every module's flag
    assert not any(m.training for m in agent.modules())


def test_a_mode_signature_override_keeps_the_safe_fix():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))

        def train(self, mode: bool = True):
            super().train(mode)
            return self

    net = Net()
    net.training = False
    """
    (msg,) = messages(code, ("FZ106",))
    assert msg.endswith("call `net.train(False)`")
    assert "net.train(False)" in run(code, ("FZ106",), fix="safe").new_text


def test_fz106_names_the_use_that_makes_a_module_and_the_fix_is_unsafe():
    code = """
    def freeze_encoder(encoder):
        for p in encoder.parameters():
            p.requires_grad = False
        encoder.training = False
    """
    (msg,) = messages(code, ("FZ106",))
    assert msg.startswith("`encoder` is used as an nn.Module (`encoder.parameters()` at line 2): "
                          "`encoder.training = False` flips only `encoder`'s own flag")
    assert run(code, ("FZ106",), fix="safe").new_text is None
    assert "encoder.train(False)" in run(code, ("FZ106",), fix="unsafe").new_text
    encoder = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    encoder.training = False  # what the code does: the Dropout still drops
    assert encoder[1].training
    encoder.train(False)
    assert not any(m.training for m in encoder.modules())


FIT_FLAG = """
import torch.nn as nn

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        self.fitted = 0

    def train(self, verbose=False):
        self.fitted += 1

clf = Classifier()
clf.training = False
"""


def test_a_bool_parameter_train_that_switches_no_mode_gets_no_train_fix():
    (msg,) = messages(FIT_FLAG, ("FZ106",))
    assert msg.endswith("call `torch.nn.Module.train(clf, False)` (`Classifier.train(self, verbose=False)` is not "
                        "nn.Module's `train(mode)`)")
    assert run(FIT_FLAG, ("FZ106",), fix="unsafe").new_text is None
    space: dict = {}
    exec(compile(textwrap.dedent(FIT_FLAG), "fit_flag_fz10x.py", "exec"), space)
    clf = space["clf"]
    clf.train(False)  # the old suggestion fits once more and switches nothing
    assert clf.fitted == 1 and clf.net[1].training


AGENTS = """
import torch.nn as nn


class Base:
    pass


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.policy = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        self.episodes = 0

    def train(self, env, steps=10):
        self.episodes += steps


class SubAgent(Agent):
    pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))

    def train(self, mode=True):
        super().train(mode)
        return self


class Later(Base):
    def train(self, env, steps=10):
        pass
"""

RUNNER = """
import torch

from fz106_agents.agents import Agent, Later, Net, SubAgent


class MyAgent(Agent):
    def eval(self):
        return torch.nn.Module.train(self, False)


agent = Agent()
agent.training = False
sub = SubAgent()
sub.training = False
mine = MyAgent()
mine.training = False
net = Net()
net.training = False
later = Later()
later.training = False
"""


def _fz106(cli, root, *args):
    out = json.loads(cli(root, "check", "--select", "FZ106", "--format", "json", *args, ".").out)
    return [(d["location"]["row"], d["message"].partition("; call ")[2], d["fix"] and d["fix"]["applicability"])
            for d in out]


def test_a_train_override_of_another_project_file_gets_no_train_fix(cli, tmp_path):
    """`agent = Agent()` with Agent, in another file of the project, overriding train() as its
    training loop: `agent.train(False)` would run it. So for a subclass of the same file (SubAgent),
    and one of this file (MyAgent, whose own eval() is then the suggestion); Net's train(mode) that
    calls super().train(mode) keeps the fix. A cached result follows the other file's changes."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "fz106_agents" / "__init__.py", "")
    agents = write(tmp_path / "fz106_agents" / "agents.py", AGENTS)
    write(tmp_path / "run.py", RUNNER)
    loop = "(`Agent.train(self, env, steps=10)` is not nn.Module's `train(mode)`)"
    want = [(12, f"`torch.nn.Module.train(agent, False)` {loop}", None),
            (14, f"`torch.nn.Module.train(sub, False)` {loop}", None),
            (16, f"`mine.eval()` {loop}", "unsafe"),
            (18, "`net.train(False)`", "safe")]
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert _fz106(cli, tmp_path, "--no-cache") == want
    assert _fz106(cli, tmp_path, *cache) == want
    assert _fz106(cli, tmp_path, *cache) == want  # warm
    # Agent's train() becomes nn.Module's; Later becomes a Module through its base
    agents.write_text(agents.read_text().replace("def train(self, env, steps=10):\n        self.episodes",
                                                 "def train(self, mode=True):\n        super().train(mode)\n"
                                                 "        self.episodes")
                      .replace("class Base:", "class Base(nn.Module):"))
    later = (20, "`torch.nn.Module.train(later, False)` (`Later.train(self, env, steps=10)` is not nn.Module's "
                 "`train(mode)`)", None)
    now = [(12, "`agent.train(False)`", "safe"), (14, "`sub.train(False)`", "safe"),
           (16, "`mine.train(False)`", "safe"), (18, "`net.train(False)`", "safe"), later]
    assert _fz106(cli, tmp_path, *cache) == now
    assert _fz106(cli, tmp_path, "--no-cache") == now


def test_what_the_other_files_agent_does_with_the_old_fix():
    space: dict = {}
    exec(compile(textwrap.dedent(AGENTS), "agents_fz10x.py", "exec"), space)
    agent, net = space["Agent"](), space["Net"]()
    agent.train(False)  # runs the training loop (env=False), switches no mode
    assert agent.episodes == 10 and agent.policy[1].training
    torch.nn.Module.train(agent, False)
    assert not any(m.training for m in agent.modules())
    net.train(False)  # the ordinary override: every module's flag
    assert not any(m.training for m in net.modules())


def test_a_subclass_of_yolo_in_the_file_gets_eval():
    code = """
    from ultralytics import YOLO

    class Detector(YOLO):
        def describe(self):
            return "detector"

    det = Detector("yolov8n.pt")
    det.training = False
    results = det("bus.jpg")
    """
    (msg,) = messages(code, ("FZ106",))
    assert msg.endswith("call `det.eval()` (YOLO's `train()` starts a training run, not a mode switch)")
    assert run(code, ("FZ106",), fix="safe").new_text is None
    assert "det.eval()\n" in run(code, ("FZ106",), fix="unsafe").new_text
