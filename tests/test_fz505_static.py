"""FZ505 in the code: an optimizer built into a name and never stepped (diffusers' AutoencoderKL
training script builds `disc_optimizer`, schedules and prepares it, and its discriminator branch
never steps it), in a file that trains. Everything that may step it keeps the rule silent."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

# diffusers examples/research_projects/autoencoderkl/train_autoencoderkl.py, reduced
AUTOENCODERKL = """
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers.optimization import get_scheduler


def main(args):
    accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps)
    vae = AutoencoderKL.from_pretrained(args.pretrained_model_name_or_path)
    discriminator = NLayerDiscriminator(input_nc=3, n_layers=3, use_actnorm=False).apply(weights_init)
    vae.requires_grad_(True)
    discriminator.requires_grad_(True)
    if args.use_8bit_adam:
        import bitsandbytes as bnb

        optimizer_class = bnb.optim.AdamW8bit
    else:
        optimizer_class = torch.optim.AdamW

    params_to_optimize = filter(lambda p: p.requires_grad, vae.parameters())
    disc_params_to_optimize = filter(lambda p: p.requires_grad, discriminator.parameters())
    optimizer = optimizer_class(
        params_to_optimize,
        lr=args.learning_rate,
        weight_decay=args.adam_weight_decay,
    )
    disc_optimizer = optimizer_class(
        disc_params_to_optimize,
        lr=args.disc_learning_rate,
        weight_decay=args.adam_weight_decay,
    )
    lr_scheduler = get_scheduler(args.lr_scheduler, optimizer=optimizer)
    disc_lr_scheduler = get_scheduler(args.disc_lr_scheduler, optimizer=disc_optimizer)
    (
        vae,
        discriminator,
        optimizer,
        disc_optimizer,
        train_dataloader,
        lr_scheduler,
        disc_lr_scheduler,
    ) = accelerator.prepare(
        vae, discriminator, optimizer, disc_optimizer, train_dataloader, lr_scheduler, disc_lr_scheduler
    )
    if accelerator.is_main_process:
        tracker_config = dict(vars(args))  # vars of an object: no local reached by its name
        accelerator.init_trackers(args.tracker_project_name, config=tracker_config)
    for epoch in range(args.num_train_epochs):
        for step, batch in enumerate(train_dataloader):
            targets = batch["pixel_values"]
            reconstructions = accelerator.unwrap_model(vae).decode(latents).sample
            if (step // args.gradient_accumulation_steps) % 2 == 0 or global_step < args.disc_start:
                with accelerator.accumulate(vae):
                    loss = F.mse_loss(reconstructions, targets) - torch.mean(discriminator(reconstructions))
                    accelerator.backward(loss)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad(set_to_none=args.set_grads_to_none)
            else:
                with accelerator.accumulate(discriminator):
                    logits_real = discriminator(targets)
                    logits_fake = discriminator(reconstructions)
                    disc_loss = hinge_d_loss(logits_real, logits_fake)
                    logs = {
                        "disc_loss": disc_loss.detach().mean().item(),
                        "disc_lr": disc_lr_scheduler.get_last_lr()[0],
                    }
"""


def _found(src: str) -> list[tuple[int, str]]:
    return [(d.row, d.message) for d in check_source(textwrap.dedent(src).lstrip("\n"), "train.py", select=["FZ505"])]


def test_the_autoencoderkl_discriminator_optimizer_is_reported():
    found = _found(AUTOENCODERKL)
    built = AUTOENCODERKL.lstrip("\n").splitlines().index("    disc_optimizer = optimizer_class(") + 1
    assert [row for row, _ in found] == [built], found
    msg = found[0][1]
    assert msg.startswith("`disc_optimizer` is built over `disc_params_to_optimize` (parameters of `discriminator`) "
                          "but never stepped (nor handed to anything that steps it): those parameters never train"), msg
    assert "call `disc_optimizer.step()` after their backward (or drop `disc_optimizer`)" in msg
    assert check_source(textwrap.dedent(AUTOENCODERKL).lstrip("\n"), "train.py", select=["FZ505"])[0].fix is None


def test_the_fixed_script_is_silent():
    fixed = AUTOENCODERKL.replace(
        '                    disc_loss = hinge_d_loss(logits_real, logits_fake)\n',
        '                    disc_loss = hinge_d_loss(logits_real, logits_fake)\n'
        '                    accelerator.backward(disc_loss)\n'
        '                    disc_optimizer.step()\n'
        '                    disc_lr_scheduler.step()\n'
        '                    disc_optimizer.zero_grad()\n')
    assert fixed != AUTOENCODERKL
    assert _found(fixed) == []


FIRES = {
    "prepared alone, under its own name": """
        import torch
        from accelerate import Accelerator
        accelerator = Accelerator()
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())  # expect
        opt_g = accelerator.prepare(opt_g)
        opt_d = accelerator.prepare_optimizer(opt_d)
        accelerator.register_for_checkpointing(opt_d)
        for x in loader:
            accelerator.backward(G(x).mean())
            opt_g.step()
            opt_d.zero_grad()
        """,
    "renamed, scheduled by transformers, logged and saved": """
        import logging
        import torch
        from transformers import get_linear_schedule_with_warmup
        from torch.optim.lr_scheduler import StepLR
        logger = logging.getLogger(__name__)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        critic_opt = torch.optim.SGD(params=critic.parameters(), lr=0.1)  # expect
        sched = get_linear_schedule_with_warmup(critic_opt, 10, 100)
        step_sched = StepLR(critic_opt, 10)
        c_opt = critic_opt
        logger.info("critic optimizer: %s", c_opt)
        print(f"{c_opt}", c_opt.param_groups[0]["lr"])
        for x in loader:
            model(x).sum().backward()
            opt.step()
            sched.step()
            step_sched.step()
        torch.save(c_opt.state_dict(), "critic_opt.pt")
        """,
    "the other optimizer stepped, no backward in this body": """
        import torch
        def fit(G, D, loader, g_step):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())  # expect
            for x in loader:
                g_step(G, x)
                opt_g.step()
        """,
}


@pytest.mark.parametrize("name", list(FIRES))
def test_fires(name):
    src = textwrap.dedent(FIRES[name]).lstrip("\n")
    want = [i for i, line in enumerate(src.splitlines(), 1) if line.endswith("# expect")]
    assert [row for row, _ in _found(src)] == want


SILENT = {
    "stepped through a list": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        for x in loader:
            loss(G, D, x).backward()
            for opt in [opt_g, opt_d]:
                opt.step()
        """,
    "stepped through a tuple of pairs": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        pairs = ((opt_g, loss_g), (opt_d, loss_d))
        for opt, fn in pairs:
            fn(x).backward()
            opt.step()
        """,
    "stepped under the name prepare gives it, by position": """
        import torch
        from accelerate import Accelerator
        accelerator = Accelerator()
        optimizer = torch.optim.AdamW(vae.parameters())
        disc_optimizer = torch.optim.AdamW(discriminator.parameters())
        (vae, discriminator, g_opt, d_opt, loader) = accelerator.prepare(
            vae, discriminator, optimizer, disc_optimizer, loader)
        for x in loader:
            accelerator.backward(vae(x).loss)
            g_opt.step()
            accelerator.backward(discriminator(x).mean())
            d_opt.step()
        """,
    "prepare's result not unpacked by position": """
        import torch
        from accelerate import Accelerator
        accelerator = Accelerator()
        opt = torch.optim.AdamW(model.parameters())
        d_opt = torch.optim.AdamW(disc.parameters())
        prepared = accelerator.prepare(model, opt, d_opt)
        model, opt = prepared[0], prepared[1]
        accelerator.backward(model(x).loss)
        opt.step()
        """,
    "prepare into fewer names than it was given": """
        import torch
        from accelerate import Accelerator
        accelerator = Accelerator()
        opt = torch.optim.AdamW(model.parameters())
        d_opt = torch.optim.AdamW(disc.parameters())
        model, opt, *rest = accelerator.prepare(model, opt, d_opt)
        accelerator.backward(model(x).loss)
        opt.step()
        """,
    "Lightning returns it from configure_optimizers": """
        import torch
        import lightning as L

        class GAN(L.LightningModule):
            def configure_optimizers(self):
                opt_g = torch.optim.Adam(self.generator.parameters())
                opt_d = torch.optim.Adam(self.discriminator.parameters())
                return [opt_g, opt_d], []

            def training_step(self, batch):
                opt_g, opt_d = self.optimizers()
                self.manual_backward(self.g_loss(batch))
                opt_g.step()
        """,
    "Lightning returns it in a dict": """
        import torch
        import lightning as L

        class Net(L.LightningModule):
            def configure_optimizers(self):
                opt = torch.optim.Adam(self.parameters())
                self.loss(self.batch).backward()
                return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 10)}
        """,
    "the HF Trainer is given it": """
        import torch
        from transformers import Trainer, get_linear_schedule_with_warmup
        head_opt = torch.optim.AdamW(model.classifier.parameters())
        sched = get_linear_schedule_with_warmup(head_opt, 0, 100)
        trainer = Trainer(model=model, optimizers=(head_opt, sched))
        aux_opt = torch.optim.AdamW(aux.parameters())
        aux(x).sum().backward()
        aux_opt.step()
        trainer.train()
        """,
    "DeepSpeed is given it": """
        import torch
        import deepspeed
        opt = torch.optim.AdamW(model.parameters())
        engine, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=opt)
        aux_opt = torch.optim.AdamW(aux.parameters())
        aux(x).sum().backward()
        aux_opt.step()
        """,
    "a GradScaler steps it": """
        import torch
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler()
        scaler.scale(loss).backward()
        scaler.step(opt_a)
        scaler.step(opt_b)
        scaler.update()
        """,
    "a closure steps it": """
        import torch
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(b.parameters(), lr=0.1)

        def step_b():
            opt_b.step()

        loss.backward()
        opt_a.step()
        step_b()
        """,
    "a lambda reaches it": """
        import torch
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
        hooks = [lambda: opt_b.step()]
        loss.backward()
        opt_a.step()
        """,
    "LBFGS stepped with a closure": """
        import torch
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.LBFGS(b.parameters())

        def closure():
            opt_b.zero_grad()
            loss = b(x).sum()
            loss.backward()
            return loss

        opt_b.step(closure)
        a(x).sum().backward()
        opt_a.step()
        """,
    "returned by a builder": """
        import torch
        def build(G, D):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            G(z).mean().backward()
            opt_g.step()
            return opt_g, opt_d
        """,
    "yielded": """
        import torch
        def optimizers(G, D):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            G(z).mean().backward()
            opt_g.step()
            yield opt_d
        """,
    "stored on an attribute, in a dict, appended": """
        import torch
        class Trainer:
            def __init__(self, G, D, E):
                opt_g = torch.optim.Adam(G.parameters())
                opt_d = torch.optim.Adam(D.parameters())
                opt_e = torch.optim.Adam(E.parameters())
                self.opt_d = opt_d
                self.optims = {"e": opt_e}
                G(z).mean().backward()
                opt_g.step()
        """,
    "handed to a helper of the project": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        G(z).mean().backward()
        opt_g.step()
        train_discriminator(D, opt_d, loader)
        """,
    "a method that is not known": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = schedulefree.AdamWScheduleFree(D.parameters())
        opt_e = torch.optim.Adam(E.parameters())
        opt_e.train()
        G(z).mean().backward()
        opt_g.step()
        """,
    "global, and used by another function": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())

        def d_step(x):
            D(x).mean().backward()
            opt_d.step()

        G(z).mean().backward()
        opt_g.step()
        """,
    "declared global in a function": """
        import torch
        def setup(G, D):
            global opt_d
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            G(z).mean().backward()
            opt_g.step()
        """,
    "globals() may reach it": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        G(z).mean().backward()
        opt_g.step()
        for name in ("opt_d",):
            globals()[name].step()
        """,
    "vars() may reach it": """
        import torch
        def fit(G, D):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            G(z).mean().backward()
            opt_g.step()
            vars()["opt_d"].step()
        """,
    "no training in the body": """
        import torch
        opt = torch.optim.AdamW(model.parameters())
        opt.load_state_dict(torch.load("ckpt.pt")["optimizer"])
        torch.save(opt.state_dict(), "optimizer.pt")
        """,
    "another optimizer over the same model": """
        import torch
        first_try = torch.optim.Adam(model.parameters())
        optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
        model(x).sum().backward()
        optimizer.step()
        """,
    "another optimizer of the file over the same model": """
        import torch
        spare = torch.optim.Adam(model.parameters())

        def train():
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            model(x).sum().backward()
            optimizer.step()
        """,
    "what it holds is not known": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(param_list)
        G(z).mean().backward()
        opt_g.step()
        """,
    "built into an attribute": """
        import torch
        class T:
            def fit(self):
                opt_g = torch.optim.Adam(self.G.parameters())
                self.opt_d = torch.optim.Adam(self.D.parameters())
                self.G(z).mean().backward()
                opt_g.step()
        """,
    "tested or compared": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters()) if train_d else None
        opt_e = torch.optim.Adam(E.parameters())
        assert opt_e is not None
        G(z).mean().backward()
        opt_g.step()
        """,
    "a nested function's own name": """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        G(z).mean().backward()
        opt_g.step()
        opt_d.step()

        def other(D2):
            opt_d = torch.optim.Adam(D2.parameters())
            return opt_d
        """,
}


@pytest.mark.parametrize("name", list(SILENT))
def test_silent(name):
    assert _found(SILENT[name]) == []


def test_a_nested_function_with_its_own_name_does_not_hide_the_outer_one():
    src = """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        G(z).mean().backward()
        opt_g.step()

        def other(D2):
            opt_d = torch.optim.Adam(D2.parameters())
            opt_d.zero_grad()
            return opt_d
        """
    assert [row for row, _ in _found(src)] == [3]


def test_parameters_held_only_by_an_optimizer_never_stepped_keep_their_values():
    """What the message says: a backward reaches the discriminator's parameters (their grads are
    there), a scheduler over its optimizer steps, the other optimizer steps; they never change."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    vae = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 4))
    discriminator = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.AdamW(vae.parameters(), lr=1e-2)
    disc_optimizer = torch.optim.AdamW(discriminator.parameters(), lr=1e-2)
    disc_sched = torch.optim.lr_scheduler.LambdaLR(disc_optimizer, lambda s: 1.0)
    vae_before = [p.detach().clone() for p in vae.parameters()]
    disc_before = [p.detach().clone() for p in discriminator.parameters()]
    # torch's own hint, the first time the scheduler steps: its optimizer never has
    with pytest.warns(UserWarning, match=r"`lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        _train(torch, vae, discriminator, optimizer, disc_sched)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(disc_before, discriminator.parameters()))
    assert not any(torch.equal(a, b) for a, b in zip(vae_before, vae.parameters()))
    disc_optimizer.step()  # the one missing call
    assert not any(torch.equal(a, b) for a, b in zip(disc_before, discriminator.parameters()))


def _train(torch, vae, discriminator, optimizer, disc_sched):
    """The AutoencoderKL loop: even steps train the VAE, odd steps compute the discriminator's loss
    (and here its backward too) and step its scheduler, never its optimizer."""
    for step in range(4):
        x = torch.randn(16, 4)
        rec = vae(x)
        if step % 2 == 0:
            loss = (rec - x).pow(2).mean() - discriminator(rec).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            disc_loss = torch.relu(1 - discriminator(x)).mean() + torch.relu(1 + discriminator(rec.detach())).mean()
            disc_loss.backward()  # even with its backward: nothing steps its optimizer
            disc_sched.step()
