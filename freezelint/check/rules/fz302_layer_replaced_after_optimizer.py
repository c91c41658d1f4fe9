"""FZ302 layer-replaced-after-optimizer: a new layer assigned after the optimizer was built."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.flow import ADD_GROUP, OPT_BUILD, REPLACE, after, flows_of
from freezelint.check.rules.base import OPTIMIZER_CALL, Example, Finding, Rule


class LayerReplacedAfterOptimizer(Rule):
    code = "FZ302"
    words = ("optim",)
    triggers = (OPTIMIZER_CALL,)
    requires = (r"\.\w+\s*=\s*[\w.]*\.?[A-Z]\w*\(",)
    what = "Finds a submodule replaced (`model.fc = nn.Linear(...)`) after an optimizer over it was built."
    why = (
        "An optimizer holds the Parameter objects it was given. A layer assigned afterwards has new "
        "Parameters: its `.grad` is computed at every backward, but the optimizer never updates it, "
        "and keeps the old layer alive instead. The new head silently stays at its random init."
    )
    notes = (
        "Follows helpers of the project's other files (an optimizer built by `build_optimizer(model)` "
        "in a builder module) and Lightning's order: `configure_optimizers` runs before every "
        "training hook, so a layer replaced in `on_train_epoch_start` comes after the optimizer."
    )
    bad = [
        Example(
            """
            import torch.nn as nn
            import torch.optim as optim
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            model.fc = nn.Linear(512, 10)  # expect: FZ302
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn
        import torch.optim as optim
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        model.fc = nn.Linear(512, 10)
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        """,
        """
        import torch.nn as nn
        import torch.optim as optim

        optimizer = optim.SGD(model.parameters(), lr=0.01)
        model.fc = nn.Linear(512, 10)
        optimizer.add_param_group({"params": model.fc.parameters()})
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in flows_of(facts).bodies:
            evs = flow.events
            for r in (e for e in evs if e.kind == REPLACE):
                path = r.detail.get("path") or ""
                builds = [o for o in evs if o.kind == OPT_BUILD and o.target == r.target and o.index < r.index
                          and not o.exclusive_with(r)
                          and (o.detail["whole"] or path.startswith(o.detail["path"] + "."))]
                if not builds:
                    continue
                later = [e for e in evs if e.kind in (OPT_BUILD, ADD_GROUP) and after(r, e) and e is not r]
                if later:
                    continue
                yield self.finding(
                    r.node,
                    f"`{path}` is replaced after the optimizer was built over `{builds[-1].detail['path']}`: the new "
                    f"layer's parameters are in no param group and never train; build the optimizer after "
                    f"replacing layers, or `add_param_group` the new layer",
                    stmt=r.stmt,
                )
