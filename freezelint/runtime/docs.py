"""Documentation of the codes the auditor reports, kept free of torch so docs build anywhere."""

from __future__ import annotations

# Runtime-only codes: what the audit observes, why it matters, what to do.
RUNTIME_DOCS: dict[str, dict[str, str]] = {
    "FZ501": {
        "observes": "A parameter with `requires_grad=False` whose bits changed during the audited steps.",
        "why": ("A frozen parameter moves at `optimizer.step()` when its `.grad` is still a tensor — left over "
                "from a backward before it was frozen, or kept alive by `zero_grad(set_to_none=False)` — and "
                "the optimizer has momentum, moving averages (Adam, AdamW, RMSprop with momentum, NAdam, RAdam, "
                "Adamax) or weight decay; a non-zero stale grad moves it even under plain SGD. "
                "`requires_grad_(False)` does not clear `.grad`."),
        "fix": ("Clear the grad when freezing (`p.grad = None`, or `zero_grad(set_to_none=True)`, the default "
                "since PyTorch 2.0) and build the optimizer from trainable parameters only."),
    },
    "FZ502": {
        "observes": "Buffers a forward in train mode rewrites (BatchNorm running_mean/running_var/"
                    "num_batches_tracked; spectral norm's power-iteration vectors u and v) changed in a module whose "
                    "parameters are all frozen, while the module was already in train mode; or, for the watch, "
                    "while it stayed in eval() with no train() switching it out: its own forward updates them "
                    "whatever the mode (a norm layer of the script's own calling `F.batch_norm(..., training=True)`; "
                    "a forward that passes `training=self.training`, as torch's BatchNorm does, fixes it). Any "
                    "module class counts, its floating-point buffers judged as a BatchNorm's. Quantization observers "
                    "and fake-quantize modules (torch.ao) are left out: they record ranges in train and eval mode "
                    "alike, as QAT and calibration mean them to; those of a frozen layer are named in a note.",
        "why": ("`requires_grad=False` does not stop running statistics from updating in train mode — not even "
                "under `torch.no_grad()` or `torch.inference_mode()`. The frozen layer's normalisation drifts "
                "towards the fine-tuning data; a frozen spectral-norm layer divides its weight by a singular value "
                "that each forward re-estimates, so it computes something else step by step."),
        "fix": "Put such modules in `eval()` after every `model.train()` (override `train()`), or replace them "
               "with `torchvision.ops.FrozenBatchNorm2d`; a BatchNorm fused into an eager-mode QAT conv is frozen "
               "by `torch.ao.nn.intrinsic.qat.freeze_bn_stats`, which its `train()` keeps. (A frozen layer's "
               "observers stop with `torch.ao.quantization.disable_observer`, not `eval()`.)",
    },
    "FZ503": {
        "observes": "A parameter with `requires_grad=True` that is in no param group of the optimizer.",
        "why": ("It gets a `.grad` at every backward but is never updated, and `optimizer.zero_grad()` never "
                "clears that grad, so it accumulates forever. The optimizer was built from only part of the "
                "model, or it was unfrozen after the optimizer was built (FZ303 in the code); the watch names "
                "the second cause when it saw the unfreeze."),
        "fix": "Add it with `optimizer.add_param_group(...)` (or rebuild the optimizer), or freeze it.",
    },
    "FZ504": {
        "observes": "A frozen parameter that sits in a param group and holds optimizer state after the steps, or "
                    "whose group has `weight_decay > 0` while the parameter had a grad tensor at some step. One "
                    "whose grad stayed None throughout is skipped by the optimizer, decay included: not reported. "
                    "The watch also reports parameters added to an optimizer after its first window "
                    "(`add_param_group` at an epoch boundary) that stay frozen at every step of the window that "
                    "follows: the unfreeze meant to go with the addition was left out, so they never train. Groups "
                    "given frozen at construction and unfrozen later (gradual unfreezing) are not reported. LBFGS "
                    "keeps one state for all it holds, under its first parameter, not one per parameter: frozen "
                    "parameters in it are reported for the room they take in its flat history (zeros there).",
        "why": ("Frozen parameters whose grad stays None only cost a place in the optimizer. But any zero-tensor "
                "grad (for example after `zero_grad(set_to_none=False)`) plus weight decay shrinks them: AdamW "
                "(default weight_decay 0.01), Adam, SGD, RMSprop and Adagrad with weight decay all do, even "
                "with fresh state."),
        "fix": ("Build the optimizer from `[p for p in model.parameters() if p.requires_grad]`; with several param "
                "groups (their own lr or weight decay), filter each group's list the same way instead, so the "
                "groups and their settings stay. A part frozen after the optimizer was built (a later stage "
                "of a schedule) keeps its state: set `p.grad = None` when freezing so no step touches it "
                "(what `zero_grad(set_to_none=True)` does), and `optimizer.state.pop(p)` frees the state."),
    },
    "FZ505": {
        "observes": ("A parameter with `requires_grad=True` in a param group with a learning rate that did not "
                     "change at all, because no gradient ever reached it; the watch says when the module holding "
                     "it never ran its forward. One in a group with `lr=0` is held still by that setting (a stage "
                     "of a schedule not reached yet, a warmup from 0): the report notes it, and it is no finding. "
                     "Under `torch.compile` the compiled backward hands such a parameter an all-zero gradient "
                     "instead of none, and weight decay or momentum then moves it without any learning: there the "
                     "gradients are counted at every step, and a module whose gradients were all zero at every "
                     "step is reported, moved or not (two steps or more: LoRA's `lora_A` gets a zero gradient at "
                     "the first step only). The watch also reads what the script writes into trainable "
                     "parameters between steps: one that the optimizer moved and that is back at its value from "
                     "before the first step at the start of every later step of the window never keeps an "
                     "update, and is reported with that cause (a write through `.data` is not seen). Four more cases the "
                     "watch names as their own: a parameter with a hook on its gradient (`register_hook`) that "
                     "returns zeros, a freeze by hook, which weight decay or momentum moves all the same (its "
                     "gradient is read at the closing step); a parameter whose gradient the loop zeroes after "
                     "backward (`p.grad.zero_()`), moved by a decoupled weight decay (AdamW) or by SGD's weight "
                     "decay through its momentum: its gradient and first moment (SGD: momentum buffer) are read "
                     "at the closing step, and it is reported where the gradient is all zeros and the moment too "
                     "(SGD: the buffer is a multiple of the weights, what the decay alone builds), so that no "
                     "step gave it a gradient (a head not picked at that step had one at its own; SGD without "
                     "momentum keeps nothing that tells, and is not read); an expert no token was routed to under "
                     "a dense mask gets the same all-zero gradient from autograd, which the step cannot tell from "
                     "a zeroed one: the finding names both, and for a member of a ModuleList or ModuleDict "
                     "advises watching more steps; a whole model the optimizer trains that something "
                     "also overwrites between every two steps while a model of the same shapes trains beside it "
                     "(an EMA teacher left trainable and in the optimizer: seen from 3 steps on); and heads or "
                     "experts of a ModuleList or ModuleDict that did not run in the window while a sibling did "
                     "(one picked per step: watch more steps)."),
        "why": ("Something you meant to train is not training: it is not used in the forward pass, or the "
                "graph is cut by `detach()` or `torch.no_grad()`, or it sits in a block run through "
                "`torch.utils.checkpoint(..., use_reentrant=True)` none of whose inputs require grad (the "
                "layers before it are frozen), or a write after `optimizer.step()` puts it back (a restore of "
                "the embedding rows meant to stay frozen whose index also covers the new token's row). "
                "Parameters whose gradient is merely tiny (a conv bias right before BatchNorm) are not "
                "reported."),
        "fix": ("Freeze it explicitly if that is the intent (a part that a later stage brings into the forward: "
                "freeze it until then); otherwise make the loss depend on it. For an update written back, "
                "restore only what must stay frozen, or copy averaged weights in for evaluation only. For a freeze by "
                "hook or by zeroing the gradient, freeze with `requires_grad_(False)` and leave the parameters out of the optimizer; for an "
                "EMA teacher, freeze it, leave it out of the optimizer and run it under `torch.no_grad()`."),
    },
    "FZ506": {
        "observes": "A pattern passed as `expect_frozen` matched a parameter that changed or is trainable, or one "
                    "in `expect_trainable` matched a parameter that did not change; or a pattern matched nothing.",
        "why": "The test states what should be frozen; the run disagrees.",
        "fix": ("Patterns are parameter names, module prefixes (`backbone` covers `backbone.*`) or fnmatch globs. "
                "A pattern that names only modules without parameters (a FrozenBatchNorm2d `bn`, by name or as "
                "`bn*`) holds `expect_frozen` where none of their buffers changed, and fails naming those that did; "
                "for `expect_trainable` it is reported as naming a module that holds no parameters. A pattern that "
                "starts with the training code's own variable for one of the model's modules (`backbone`, where "
                "`backbone = model[0]`) is judged on that module, with a note; it stays FZ506 where that name holds "
                "several of the model's modules."),
    },
    "FZ507": {
        "observes": "Inside a distributed job: a parameter that requires grad on some ranks and is frozen on others.",
        "why": ("Each rank then trains a different set of weights. Under DDP a parameter frozen on one rank only "
                "after the wrap is still all-reduced (with `find_unused_parameters=True`), so the other ranks' "
                "gradient lands in its `.grad` and it still moves; freeze decisions that depend on the rank "
                "(`if rank == 0:`, a rank-local file or metric) are the usual cause. Under FSDP2 (`fully_shard`) "
                "the first backward waits in a gradient reduce-scatter that the ranks no longer agree on, until "
                "the process group's timeout, with no error naming the cause; `audit()` finds it before any step "
                "and runs none. Under FSDP1 (`use_orig_params=True`) the whole flat parameter is still "
                "reduce-scattered, but only ranks where the parameter is trainable step their shard of it, so it "
                "ends up partly trained."),
        "fix": "Take the freeze decision identically on every rank, before wrapping the model in DDP or FSDP.",
    },
    "FZ508": {
        "observes": ("Inside a distributed job: a parameter whose bits differ across ranks before the audit's "
                     "steps, or that was identical before and differs after them (under DDP with gradient "
                     "sync); or a buffer that differs across ranks although not every rank updated it."),
        "why": ("DDP broadcasts rank 0's parameters and buffers once, when it wraps the model, and from then on "
                "keeps replicas identical only by all-reducing gradients of the parameters it knows. Weights "
                "changed on some ranks after the wrap (a checkpoint loaded on rank 0 only) stay different "
                "forever, and parameters DDP does not all-reduce (unfrozen or registered after the wrap) drift "
                "apart with every step; rank 0's checkpoint then describes one replica only. Buffers DDP "
                "re-broadcasts at every forward (`broadcast_buffers=True`) and running statistics every rank "
                "updates from its own batch are not reported: they differ by design. Under FSDP each rank holds "
                "a different shard of every sharded parameter, so only replicated tensors (buffers, parameters "
                "outside any FSDP unit, the replicas of a shard under HSDP) are compared."),
        "fix": ("Load checkpoints, change requires_grad and replace layers before wrapping in DDP, or wrap again "
                "(`DDP(model.module, ...)`) after such a change."),
    },
    "FZ509": {
        "observes": ("A trainable parameter that was not in the model when DistributedDataParallel wrapped it "
                     "(a layer replaced or added after the wrap), or a DDP reducer that still holds parameters "
                     "no longer in the model."),
        "why": ("DDP neither broadcast its initial value nor all-reduces its gradient, so every rank trains its "
                "own copy. The replaced layer's old parameters stay in DDP's reducer, which waits for their "
                "gradients: without `find_unused_parameters=True` the second iteration raises \"Expected to "
                "have finished reduction in the prior iteration\"."),
        "fix": "Replace or add layers before wrapping, or wrap again (`DDP(model.module, ...)`) afterwards.",
    },
}

# Who reports the runtime codes, for "found by": `audit()` (and `freezelint audit`) runs steps of
# its own on what a factory built; the watch (`freezelint run`, `watch()`) judges the training
# code's own steps. Both report every runtime code but these, which only the training code's own
# loop can show (the lr its schedulers set over its steps).
WATCH_ONLY = frozenset({"FZ304"})
FINDERS = {"check": "`freezelint check`", "audit": "`freezelint.audit()`",
           "run": "`freezelint run` / `freezelint.watch()`"}


def runtime_finders(code: str) -> list[str]:
    """Which of "audit" and "run" (the watch) report `code`: [] for a static-only code."""
    if code not in RUNTIME_DOCS and code not in ALSO_AT_RUNTIME:
        return []
    return ["run"] if code in WATCH_ONLY else ["audit", "run"]


# Static codes the audit also reports from live objects: how it sees them.
ALSO_AT_RUNTIME: dict[str, str] = {
    "FZ101": "`'requires_grad_' in obj.__dict__` on a module or parameter: the method was overwritten.",
    "FZ102": "`'requires_grad' in module.__dict__`: a plain attribute on an nn.Module.",
    "FZ103": "A misspelling of `requires_grad` (or `trainable`) in a module's or parameter's `__dict__`.",
    "FZ113": ("A `train` or `eval` in a module's `__dict__` that is not callable (`model.head.train = False`): the "
              "method was overwritten, the mode never changed, and `model.train()` would raise TypeError. `audit()` "
              "then refuses to run its steps (its own `model.train()` would raise) with one line naming FZ113, unless "
              "`call_train=False`; the watch reports it with its findings."),
    "FZ201": ("BatchNorm statistics moved during the steps in a module whose parameters are frozen and that was "
              "in eval mode before the audit's `model.train()` — as an epoch loop's `model.train()` would do. "
              "Also when its parameters train but the BatchNorm layer itself was put in eval() to keep its "
              "statistics (deeplab's `freeze_bn()`, mmdet's `norm_eval`): the watch sees that eval(); "
              "`audit()` sees the layer in eval() while the module holding it trains."),
    "FZ304": ("The watch (`freezelint run`, `watch()`): a param group whose lr was 0 at its optimizer's first "
              "watched step, while another group trained, and whose lr a scheduler had taken as 0 (`initial_lr`), "
              "or whose lr=0 was written after a scheduler over it had set a nonzero one, has a nonzero lr at a "
              "later step and its parameters changed: the scheduler raised it (CosineAnnealingLR's `eta_min` "
              "applies to every group; a scheduler's step() sets each group's lr again from its schedule), so the "
              "freeze by learning rate did not hold. So is a group with lr=0 while another trained that OneCycleLR or "
              "CyclicLR, built while watching or between its windows, set from one `max_lr` (`base_lr`) for every "
              "group when built, or whose base lr of 0 timm's scheduler (wherever the code holds it) warms up from "
              "a nonzero `warmup_lr_init`. A warmup from 0, "
              "which sets every group to 0 alike or one group by its own schedule, is no freeze. A group whose base "
              "lr (`initial_lr`) is 0 while another group trains, under schedulers the training code holds that only multiply it (LinearLR, LambdaLR and "
              "the warm-up schedules of transformers and diffusers built on it, StepLR, MultiStepLR, ConstantLR, "
              "MultiplicativeLR, ExponentialLR, PolynomialLR, CosineAnnealingLR and CosineAnnealingWarmRestarts "
              "with eta_min=0, ReduceLROnPlateau, SequentialLR and ChainedScheduler of those), never trains: its "
              "lr stays 0 at every step (a per-group lr looked up under a misspelt key that falls back to 0). Any "
              "other lr that stays 0 (a scheduler that may raise it: OneCycleLR, CyclicLR given 0 for that group, a "
              "subclass; no scheduler, where the loop may set it by hand) is a note, not a finding."),
    "FZ111": ("A PEFT model over a transformers task model (`...ForSequenceClassification`, ...) whose head "
              "(`classifier`, `score`, `qa_outputs`) is frozen whole and is no `ModulesToSaveWrapper`, while "
              "the adapters train: the head keeps the initialisation it had when get_peft_model froze it. And a "
              "model holding PEFT's adapters in which no parameter trains, the adapters included, while an "
              "optimizer steps it (under TRL's trainers, whose input grads give the loss a graph): an adapter "
              "loaded for inference (`PeftModel.from_pretrained` or `load_adapter` without `is_trainable=True`), "
              "or a freeze after get_peft_model or add_adapter."),
    "FZ306": ("Under DDP: a parameter trainable now that DDP's reducer does not hold (unfrozen after the wrap; "
              "its gradient is never all-reduced), or one the reducer holds that is frozen now (frozen after the "
              "wrap; without find_unused_parameters=True the next iteration raises, so the audit runs its steps "
              "under no_sync() on every rank and leaves the reducer as it found it)."),
    "FZ302": ("Trainable parameters of a layer are in no param group while the optimizer holds parameters that "
              "are no longer in the model: the layer was replaced after the optimizer was built, or one of its "
              "tensors was reparametrized after it (`weight_norm` moves `weight` into new Parameters, "
              "`parametrizations.weight.original0/1` or `weight_g`/`weight_v`, and the optimizer keeps the old one), "
              "or its Parameters were made anew (`load_state_dict(..., assign=True)`; `.to()`/`.half()` under "
              "`torch.__future__.set_overwrite_module_params_on_conversion(True)`, which the finding names when it is "
              "set). With nothing trainable left out, the watch reports the optimizer that holds tensors no longer in "
              "the model, which got no gradient, where a layer was seen replaced or nothing it holds is in the model: "
              "peft's `merge_and_unload()` or `unload()` mid-training (the LoRA adapters are gone, so their training "
              "stopped: merge after training, or build a new optimizer), or a model rebuilt after the optimizer."),
}
