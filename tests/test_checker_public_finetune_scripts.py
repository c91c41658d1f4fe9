"""The checker on patterns from public fine-tuning scripts and model files: detection backbones
with frozen BatchNorm, linear probes, GAN and EMA training, LoRA set-ups and checkpoint loaders.
Each snippet restates a pattern in its own words; the real mistakes must be reported, the correct
code around them must not."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source


def _rows(src: str, code: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(src), "train.py", select=[code])]


# --------------------------------------------------------------------------- must be reported
def test_fz402_a_prefix_cut_from_every_key_before_the_membership_filter():
    # the cut assumes every key starts with `module.`: a checkpoint saved without the wrapper
    # loses its first letters, the filter keeps nothing and the load reports all keys matched
    src = """
    import torch


    def restore(net, path):
        saved = torch.load(path)["model_state"]
        own = net.state_dict()
        saved = {name[len("module."):]: t for name, t in saved.items()}
        saved = {name: t for name, t in saved.items() if name in own}
        own.update(saved)
        net.load_state_dict(own)
    """
    assert _rows(src, "FZ402") == [9]


def test_fz102_a_new_head_set_trainable_by_attribute():
    src = """
    from torch import nn
    from transformers import AutoModelForSequenceClassification


    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModelForSequenceClassification.from_pretrained("roberta-base")
            for p in self.encoder.parameters():
                p.requires_grad = False
            self.encoder.classifier = nn.Linear(768, 3)
            self.encoder.classifier.requires_grad = True
    """
    assert _rows(src, "FZ102") == [13]


# ----------------------------------------------------------------------- must stay silent
def test_a_detector_that_keeps_frozen_batchnorm_in_eval_through_its_train_override():
    # BatchNorm parameters frozen by class name, and a train() override that puts them back in
    # eval after every model.train(): the statistics never move
    src = """
    from torch import nn, optim
    from torchvision import models


    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            trunk = models.resnet101()
            self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool, trunk.layer1)
            self.top = nn.Sequential(trunk.layer4)

            def fix_norm(m):
                if m.__class__.__name__.find("BatchNorm") != -1:
                    for p in m.parameters():
                        p.requires_grad = False

            self.stem.apply(fix_norm)
            self.top.apply(fix_norm)
            self.head = nn.Linear(2048, 21)

        def train(self, mode=True):
            nn.Module.train(self, mode)
            if mode:
                def norm_eval(m):
                    if m.__class__.__name__.find("BatchNorm") != -1:
                        m.eval()

                self.stem.apply(norm_eval)
                self.top.apply(norm_eval)

        def forward(self, x):
            return self.head(self.top(self.stem(x)).mean((2, 3)))


    det = Detector()
    opt = optim.SGD([p for p in det.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    for epoch in range(12):
        det.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(det(x), y).backward()
            opt.step()
    """
    for code in ("FZ202", "FZ201", "FZ301", "FZ503"):
        assert _rows(src, code) == [], code


def test_a_linear_probe_whose_head_is_replaced_before_its_optimizer():
    src = """
    import torch
    from torch import nn


    def build(model, ckpt):
        msg = model.load_state_dict(ckpt, strict=False)
        assert set(msg.missing_keys) == {"head.weight", "head.bias"}
        model.head = nn.Sequential(nn.BatchNorm1d(model.head.in_features, affine=False), model.head)
        for _, p in model.named_parameters():
            p.requires_grad = False
        for _, p in model.head.named_parameters():
            p.requires_grad = True
        return model, torch.optim.SGD(model.head.parameters(), lr=0.1, momentum=0.9)
    """
    for code in ("FZ302", "FZ303", "FZ401", "FZ202"):
        assert _rows(src, code) == [], code


def test_an_averaged_copy_frozen_after_the_copy_while_the_original_trains():
    src = """
    import copy

    import torch
    from torch import nn


    class Averaged:
        def __init__(self, net, decay=0.999):
            self.shadow = copy.deepcopy(net).eval()
            for p in self.shadow.parameters():
                p.requires_grad_(False)
            self.decay = decay

        @torch.no_grad()
        def update(self, net):
            for a, b in zip(self.shadow.parameters(), net.parameters()):
                a.mul_(self.decay).add_(b, alpha=1 - self.decay)


    net = nn.Linear(4, 2)
    avg = Averaged(net)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    for x, y in loader:
        opt.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        opt.step()
        avg.update(net)
    """
    for code in ("FZ112", "FZ503", "FZ505"):
        assert _rows(src, code) == [], code


def test_two_gan_optimizers_stepped_while_the_discriminators_are_toggled():
    src = """
    import itertools

    import torch


    class Pair:
        def __init__(self, gen_a, gen_b, disc_a, disc_b):
            self.gen_a, self.gen_b, self.disc_a, self.disc_b = gen_a, gen_b, disc_a, disc_b
            self.opt_g = torch.optim.Adam(itertools.chain(gen_a.parameters(), gen_b.parameters()), lr=2e-4)
            self.opt_d = torch.optim.Adam(itertools.chain(disc_a.parameters(), disc_b.parameters()), lr=2e-4)

        @staticmethod
        def toggle(nets, flag):
            for net in nets:
                for p in net.parameters():
                    p.requires_grad = flag

        def step(self, a, b):
            fake_b, fake_a = self.gen_a(a), self.gen_b(b)
            self.toggle([self.disc_a, self.disc_b], False)
            self.opt_g.zero_grad()
            (-(self.disc_a(fake_b).mean() + self.disc_b(fake_a).mean())).backward()
            self.opt_g.step()
            self.toggle([self.disc_a, self.disc_b], True)
            self.opt_d.zero_grad()
            (self.disc_a(fake_b.detach()).mean() - self.disc_a(b).mean()).backward()
            self.opt_d.step()
    """
    for code in ("FZ505", "FZ303", "FZ307", "FZ503"):
        assert _rows(src, code) == [], code


def test_a_generator_average_only_sampled_under_no_grad():
    src = """
    import torch
    from torch import nn, optim


    def requires_grad(net, flag=True):
        for p in net.parameters():
            p.requires_grad = flag


    def blend(avg, net, decay=0.999):
        own = dict(avg.named_parameters())
        for k, v in net.named_parameters():
            own[k].data.mul_(decay).add_(v.data, alpha=1 - decay)


    def run(gen, disc, gen_avg, g_opt, d_opt, loader, steps):
        z_fixed = torch.randn(16, 64)
        for i, real in zip(range(steps), loader):
            requires_grad(gen, False)
            requires_grad(disc, True)
            fake = gen(torch.randn(16, 64))
            d_loss = nn.functional.softplus(disc(fake)).mean() + nn.functional.softplus(-disc(real)).mean()
            disc.zero_grad()
            d_loss.backward()
            d_opt.step()
            requires_grad(gen, True)
            requires_grad(disc, False)
            g_loss = nn.functional.softplus(-disc(gen(torch.randn(16, 64)))).mean()
            gen.zero_grad()
            g_loss.backward()
            g_opt.step()
            blend(gen_avg, gen)
            if i % 100 == 0:
                with torch.no_grad():
                    gen_avg.eval()
                    samples = gen_avg(z_fixed)


    gen, disc, gen_avg = Gen(), Disc(), Gen()
    gen_avg.eval()
    blend(gen_avg, gen, 0)
    run(gen, disc, gen_avg, optim.Adam(gen.parameters(), lr=2e-3), optim.Adam(disc.parameters(), lr=2e-3),
        loader, 1000)
    """
    for code in ("FZ503", "FZ505", "FZ303", "FZ307"):
        assert _rows(src, code) == [], code


def test_a_key_count_printed_or_a_spelled_out_key_popped_checks_the_filter():
    printed = """
    import torch


    def load_checkpoint(model, path):
        own = model.state_dict()
        saved = torch.load(path)["state_dict"]
        kept = {k: v for k, v in saved.items() if k in own.keys()}
        own.update(kept)
        print("total: {}, updated: {}".format(len(saved), len(kept)))
        model.load_state_dict(own)
    """
    popped = """
    import torch


    def load_model(model, path):
        own = model.state_dict()
        kept = {k: v for k, v in torch.load(path).items() if k in own.keys()}
        kept.pop("classifier.weight")
        kept.pop("classifier.bias")
        own.update(kept)
        model.load_state_dict(own)
    """
    assert _rows(printed, "FZ402") == []
    assert _rows(popped, "FZ402") == []
