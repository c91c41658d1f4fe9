"""FZ503 found in source: a model that runs in the training forward while it is neither frozen nor
in any optimizer (diffusers' train_t2i_adapter_sdxl.py leaves its UNet so)."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

T2I = """
import accelerate
import torch
from diffusers import AutoencoderKL, StableDiffusionXLAdapterPipeline, T2IAdapter, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection


def log_validation(vae, unet, adapter, args, accelerator, weight_dtype, step):
    adapter = accelerator.unwrap_model(adapter)
    pipeline = StableDiffusionXLAdapterPipeline.from_pretrained(
        args.pretrained_model_name_or_path, vae=vae, unet=unet, adapter=adapter, torch_dtype=weight_dtype,
    )
    pipeline = pipeline.to(accelerator.device)
    return [pipeline(p).images[0] for p in args.validation_prompt]


def main(args):
    accelerator = accelerate.Accelerator()
    text_encoder_one = CLIPTextModel.from_pretrained(args.pretrained_model_name_or_path, subfolder="text_encoder")
    text_encoder_two = CLIPTextModelWithProjection.from_pretrained(args.pretrained_model_name_or_path,
                                                                   subfolder="text_encoder_2")
    vae = AutoencoderKL.from_pretrained(args.pretrained_model_name_or_path, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(args.pretrained_model_name_or_path, subfolder="unet")
    if args.adapter_model_name_or_path:
        t2iadapter = T2IAdapter.from_pretrained(args.adapter_model_name_or_path)
    else:
        t2iadapter = T2IAdapter(in_channels=3, channels=(320, 640, 1280, 1280), adapter_type="full_adapter_xl")

    vae.requires_grad_(False)
    text_encoder_one.requires_grad_(False)
    text_encoder_two.requires_grad_(False)
    t2iadapter.train()
    unet.train()
    if args.enable_xformers_memory_efficient_attention:
        unet.enable_xformers_memory_efficient_attention()
    if args.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    if accelerator.unwrap_model(t2iadapter).dtype != torch.float32:
        raise ValueError("adapter not in float32")

    if args.use_8bit_adam:
        import bitsandbytes as bnb
        optimizer_class = bnb.optim.AdamW8bit
    else:
        optimizer_class = torch.optim.AdamW
    params_to_optimize = t2iadapter.parameters()
    optimizer = optimizer_class(params_to_optimize, lr=args.learning_rate, weight_decay=args.adam_weight_decay)

    weight_dtype = torch.float16
    vae.to(accelerator.device, dtype=torch.float32)
    unet.to(accelerator.device, dtype=weight_dtype)
    text_encoder_one.to(accelerator.device, dtype=weight_dtype)
    t2iadapter, optimizer, train_dataloader = accelerator.prepare(t2iadapter, optimizer, args.loader)

    for epoch in range(args.num_train_epochs):
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(t2iadapter):
                latents = vae.encode(batch["pixel_values"]).latent_dist.sample()
                latents = latents * vae.config.scaling_factor
                noise = torch.randn_like(latents)
                bsz = latents.shape[0]
                timesteps = torch.randint(0, 1000, (bsz,), device=latents.device)
                down_block_additional_residuals = t2iadapter(batch["conditioning_pixel_values"])
                down_block_additional_residuals = [
                    sample.to(dtype=weight_dtype) for sample in down_block_additional_residuals
                ]
                model_pred = unet(
                    latents,
                    timesteps,
                    encoder_hidden_states=batch["prompt_ids"],
                    down_block_additional_residuals=down_block_additional_residuals,
                ).sample
                denoised_latents = model_pred * -1.0 + latents
                loss = torch.mean((denoised_latents.float() - latents.float()) ** 2)
                loss = loss.mean()
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(t2iadapter.parameters(), args.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=args.set_grads_to_none)
            if accelerator.sync_gradients and step % args.validation_steps == 0:
                log_validation(vae, unet, t2iadapter, args, accelerator, weight_dtype, step)
            logs = {"loss": loss.detach().item()}
            accelerator.log(logs, step=step)
"""


def _found(src: str) -> list[tuple[int, str]]:
    return [(d.row, d.message) for d in check_source(textwrap.dedent(src).lstrip("\n"), "train.py",
                                                     select=["FZ503"])]


def test_reduced_t2i_adapter_script_fires_on_the_unet_forward():
    found = _found(T2I)
    assert len(found) == 1
    row, msg = found[0]
    assert T2I.lstrip("\n").splitlines()[row - 1].strip() == "model_pred = unet("
    assert msg.startswith("`unet` runs in the training forward but is neither frozen nor in any optimizer")
    assert "`unet.requires_grad_(False)`, as done for `vae`" in msg
    assert check_source(textwrap.dedent(T2I).lstrip("\n"), "train.py", select=["FZ503"])[0].fix is None


@pytest.mark.parametrize("change", [
    # the UNet frozen as the others
    ("    vae.requires_grad_(False)\n", "    vae.requires_grad_(False)\n    unet.requires_grad_(False)\n"),
    # ... or in the optimizer (a chain, param groups, a name holding its parameters)
    ("params_to_optimize = t2iadapter.parameters()",
     "params_to_optimize = itertools.chain(t2iadapter.parameters(), unet.parameters())"),
    ("params_to_optimize = t2iadapter.parameters()",
     "params_to_optimize = [{'params': t2iadapter.parameters()}, {'params': unet.parameters(), 'lr': 1e-5}]"),
    ("    params_to_optimize = t2iadapter.parameters()\n",
     "    unet_params = [p for p in unet.parameters() if p.requires_grad]\n"
     "    params_to_optimize = t2iadapter.parameters()\n    params_to_optimize = list(params_to_optimize) + unet_params\n"),
    # frozen by a helper of the file
    ("    vae.requires_grad_(False)\n", "    vae.requires_grad_(False)\n    freeze(unet)\n"),
    # under no_grad
    ("                model_pred = unet(", "                with torch.no_grad():\n                    model_pred = unet("),
    # detached on its way to the loss
    ("denoised_latents = model_pred * -1.0 + latents", "denoised_latents = model_pred.detach() * -1.0 + latents"),
    # handed to accelerator.prepare with an optimizer built elsewhere
    ("t2iadapter, optimizer, train_dataloader = accelerator.prepare(t2iadapter, optimizer, args.loader)",
     "unet, t2iadapter, optimizer, train_dataloader = accelerator.prepare(unet, t2iadapter, optimizer, args.loader)"),
    # an optimizer over parameters this file cannot read
    ("params_to_optimize = t2iadapter.parameters()", "params_to_optimize = get_trainable(args)"),
    # PEFT adapters on it
    ("    unet.train()\n", "    unet.train()\n    unet.add_adapter(lora_config)\n"),
    # the forward only measured
    ("denoised_latents = model_pred * -1.0 + latents", "denoised_latents = latents * 0.5"),
])
def test_near_misses_of_the_t2i_script(change):
    old, new = change
    assert old in T2I
    src = T2I.replace(old, new)
    if "freeze(unet)" in src:
        src = src.replace("def main(args):", "def freeze(m):\n    m.requires_grad_(False)\n\n\ndef main(args):")
    if "itertools" in src:
        src = "import itertools\n" + src
    assert _found(src) == []


def test_a_metric_model_and_a_teacher_under_no_grad_stay_silent():
    assert _found("""
        import torch
        import torchvision

        def train(loader):
            teacher = torchvision.models.resnet50(weights="DEFAULT")
            teacher.eval()
            judge = torchvision.models.resnet18(weights="DEFAULT")
            backbone = torchvision.models.resnet18(weights="DEFAULT")
            backbone.requires_grad_(False)
            backbone.eval()
            head = torch.nn.Linear(1000, 1000)
            optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
            for x, y in loader:
                with torch.no_grad():
                    soft = teacher(x).softmax(-1)
                logits = head(backbone(x))
                loss = torch.nn.functional.kl_div(logits.log_softmax(-1), soft, reduction="batchmean")
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                accuracy = (judge(x).argmax(-1) == y).float().mean()
                print(accuracy.item())
        """) == []


def test_a_student_of_a_wrapper_or_a_model_rebuilt_is_not_claimed():
    # `model` holds `head`'s parameters, which the optimizer has: no claim on `model`
    assert _found("""
        import torch
        import torchvision

        backbone = torchvision.models.resnet18()
        backbone.requires_grad_(False)
        head = torch.nn.Linear(1000, 10)
        model = torch.nn.Sequential(backbone, head)
        optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        """) == []


def test_the_mistake_in_torch_grads_pile_up_and_the_model_never_trains():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    frozen = torch.nn.Linear(4, 4)
    frozen.requires_grad_(False)
    unet = torch.nn.Linear(4, 4)  # neither frozen nor optimized
    adapter = torch.nn.Linear(4, 4)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-2)
    before = unet.weight.detach().clone()
    x = torch.randn(8, 4)
    norms = []
    for _ in range(3):
        loss = unet(adapter(frozen(x))).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        assert adapter.weight.grad is None  # the optimizer clears its own parameters only
        norms.append(unet.weight.grad.norm().item())
    assert norms[0] > 0 and norms[1] > norms[0] and norms[2] > norms[1]  # unet's grads pile up
    assert torch.equal(unet.weight, before)  # and it never trains
    assert frozen.weight.grad is None
